"""A runtime's own root file system: the host's system, writable and ephemeral, owned by the
runtime's root.

A runtime's code runs as root inside a user namespace of its own that maps root to one
unprivileged host uid (``sandbox_uid_base + person id``), as on Colab where notebooks run as root:
``apt-get install`` and ``pip install`` into the system work. What it writes goes to an overlay
whose upper layer lives in the runtime's own storage and is deleted at disconnect; the host's
files never change.

For that, each system folder the runtime may change (:data:`LAYERS`) becomes, per runtime:

- a *lower* layer: an id-mapped bind mount of the host folder (``open_tree`` +
  ``mount_setattr(MOUNT_ATTR_IDMAP)`` + ``move_mount``) in which host uid 0 appears as the
  runtime's host uid, so that inside the sandbox the system's files belong to the runtime's root;
- an overlay of that lower layer with an upper and a work folder in the runtime's storage.

``/etc`` is special: its lower layer is a copy of the host's /etc made by the server (see
:func:`shared_etc`) without anything other users cannot read (``/etc/shadow``, TLS and SSH
private keys...), because the runtime's root could read such files through an id-mapped /etc.

bubblewrap then runs as the runtime's host uid (it makes the user namespace), so it cannot
reach the folders it binds where they are (Dikte's data dir is private to root). Each runtime
therefore has a *view* (:func:`view_dir`): a folder only root writes, which others may traverse
but not list, holding the merged layers and bind mounts of the host folders the sandbox needs
(:func:`bind`). Mount points live only there, outside the instance space, and are removed with
``umount`` then ``rmdir``, never by deleting a tree: deleting a tree that still held an
id-mapped host folder would delete the host's files. Everything here runs as root, in the control
plane, on host paths only; nothing is executed inside the sandbox.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import shutil
import stat
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dikte.errors import SandboxUnavailable

LAYERS = ("usr", "etc", "var/lib/dpkg", "var/lib/apt", "var/cache/apt", "var/cache/debconf")
"""System folders (relative to /) a runtime sees writable; everything else stays read-only."""

APT_CONF = ('// Written by Dikte: runtimes have no _apt user to download as.\n'
            'APT::Sandbox::User "root";\n')

_SYS_OPEN_TREE, _SYS_MOVE_MOUNT, _SYS_MOUNT_SETATTR = 428, 429, 442  # the same on x86-64 and arm64
_OPEN_TREE_CLONE = 1
_OPEN_TREE_CLOEXEC = os.O_CLOEXEC
_AT_FDCWD = -100
_AT_EMPTY_PATH = 0x1000
_MOVE_MOUNT_F_EMPTY_PATH = 0x4
_MOUNT_ATTR_IDMAP = 0x00100000
_MS_NOSUID, _MS_NODEV, _MS_BIND, _MS_REC = 0x2, 0x4, 0x1000, 0x4000
_MNT_DETACH = 0x2

_libc = ctypes.CDLL(None, use_errno=True)


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def _fail(what: str) -> SandboxUnavailable:
    err = ctypes.get_errno()
    return SandboxUnavailable(
        "This server cannot give runtimes a root file system of their own.",
        log_message=f"{what}: {os.strerror(err)} (errno {err}); id-mapped mounts and overlayfs "
                    "need Linux 5.19 or newer",
    )


class IdMaps:
    """User namespaces that map root to one host uid, one per uid, kept open for id-mapped
    mounts (the namespace only describes the mapping; no process stays in it)."""

    def __init__(self) -> None:
        self._fds: dict[int, int] = {}

    def fd(self, uid: int) -> int:
        if uid not in self._fds:
            self._fds[uid] = _userns_mapping(uid)
        return self._fds[uid]

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()


def _userns_mapping(uid: int, inside: int = 0) -> int:
    """An fd of a new user namespace mapping ``inside`` to ``uid`` (uids and gids)."""
    mine = os.stat("/proc/self/ns/user").st_ino
    proc = subprocess.Popen(["unshare", "--user", "--", "/bin/sh", "-c", "read _"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin"})
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if os.stat(f"/proc/{proc.pid}/ns/user").st_ino != mine:
                    break
            except FileNotFoundError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SandboxUnavailable(
                    "This server cannot give runtimes a root file system of their own.",
                    log_message="unshare --user did not make a user namespace",
                )
            time.sleep(0.001)
        for name in ("uid_map", "gid_map"):
            with open(f"/proc/{proc.pid}/{name}", "w") as f:
                f.write(f"{inside} {uid} 1\n")
        return os.open(f"/proc/{proc.pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.kill()
        proc.wait()


def _idmapped_tree(source: Path, userns_fd: int) -> int:
    tree = _libc.syscall(_SYS_OPEN_TREE, _AT_FDCWD, os.fsencode(source),
                         _OPEN_TREE_CLONE | _OPEN_TREE_CLOEXEC)
    if tree < 0:
        raise _fail(f"open_tree({source})")
    attr = _MountAttr(_MOUNT_ATTR_IDMAP, 0, 0, userns_fd)
    if _libc.syscall(_SYS_MOUNT_SETATTR, tree, b"", _AT_EMPTY_PATH, ctypes.byref(attr),
                     ctypes.sizeof(attr)) != 0:
        error = _fail(f"mount_setattr(MOUNT_ATTR_IDMAP) on {source}")
        os.close(tree)
        raise error
    return int(tree)


def _move(tree: int, target: Path) -> None:
    if _libc.syscall(_SYS_MOVE_MOUNT, tree, b"", _AT_FDCWD, os.fsencode(target),
                     _MOVE_MOUNT_F_EMPTY_PATH) != 0:
        raise _fail(f"move_mount to {target}")


def id_mapping(stored_uid: int, seen_uid: int) -> int:
    """An fd describing the mapping of :func:`mapped_tree` (close it after use)."""
    return _userns_mapping(seen_uid, inside=stored_uid)


def mapped_tree(source: Path, mapping: int) -> int:
    """A detached id-mapped copy of the host folder ``source`` (an fd to ``move_mount``) under
    ``mapping`` (:func:`id_mapping`): its files owned by the stored uid appear as the seen
    uid's, and what the seen uid writes is stored as the stored uid's (uids and gids). Other
    owners appear as nobody, as in any sandbox."""
    return _idmapped_tree(source, mapping)


def mount_mapped(source: Path, target: Path, mapping: int) -> None:
    """:func:`mapped_tree` of ``source``, mounted on ``target``."""
    tree = mapped_tree(source, mapping)
    try:
        _move(tree, target)
    finally:
        os.close(tree)


def unmount(target: Path) -> None:
    """Unmount what is mounted on ``target`` (nothing if nothing is)."""
    _unmount(target)


def _overlay(lower: Path, upper: Path, work: Path, target: Path) -> None:
    options = f"lowerdir={lower},upperdir={upper},workdir={work}"
    if _libc.mount(b"overlay", os.fsencode(target), b"overlay", _MS_NOSUID | _MS_NODEV,
                   options.encode()) != 0:
        raise _fail(f"mounting the overlay at {target}")


def _unmount(target: Path) -> None:
    _libc.umount2(os.fsencode(target), _MNT_DETACH)  # EINVAL: not mounted, fine


def _flat(layer: str) -> str:
    if layer in LAYERS:
        return layer.replace("/", "_")
    return "img-" + hashlib.sha256(layer.encode()).hexdigest()[:16]  # an image's folder


def image_layers(roots: Sequence[str]) -> list[str]:
    """The layers (relative to /) for an image's folders outside /usr (a virtualenv, a pyenv
    Python): those that root owns, which the runtime's root may then change in its own copy, so
    ``pip install`` goes into the image's own site-packages, as on Colab. A folder another user
    owns stays read-only (the id mapping maps only root)."""
    out = []
    for root in roots:
        try:
            st = os.lstat(root)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode) and st.st_uid == 0 and st.st_gid == 0:
            out.append(root.strip("/"))
    return out


@dataclass(frozen=True)
class RootLayers:
    """One runtime's writable system folders: ``merged[layer]`` is bound at ``/<layer>``."""

    mounts: Path
    """``<data_dir>/rootfs/runtimes/<runtime id>``: the lower and merged mount points."""
    storage: Path
    """Upper and work folders, in the runtime's own storage."""

    def merged(self, layer: str) -> Path:
        return self.mounts / "merged" / _flat(layer)

    def to_state(self) -> dict[str, Any]:
        return {"mounts": str(self.mounts), "storage": str(self.storage)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RootLayers:
        return cls(Path(state["mounts"]), Path(state["storage"]))


def build(mounts: Path, storage: Path, uid: int, maps: IdMaps, etc_copy: Path,
          images: Sequence[str] = ()) -> RootLayers:
    """Mount a runtime's layers (see the module docstring) under ``mounts``, with their upper
    and work folders in ``storage``, a new folder no process of the runtime can reach;
    ``images``: more layers, from :func:`image_layers`."""
    layers = RootLayers(mounts, storage)
    try:
        for layer in (*LAYERS, *images):
            source = etc_copy if layer == "etc" else Path("/") / layer
            if not source.is_dir() or source.is_symlink():
                continue
            lower = layers.mounts / "lower" / _flat(layer)
            merged = layers.merged(layer)
            upper = storage / "upper" / _flat(layer)
            work = storage / "work" / _flat(layer)
            for d in (lower, merged, upper, work):
                d.mkdir(mode=0o755, parents=True)
            st = source.stat()
            os.chown(upper, uid if st.st_uid == 0 else st.st_uid, uid if st.st_gid == 0
                     else st.st_gid)
            os.chmod(upper, stat.S_IMODE(st.st_mode))
            if layer.startswith("var/"):
                _adopt_foreign_dirs(source, upper, uid)
            mount_mapped(source, lower, maps.fd(uid))
            _overlay(lower, upper, work, merged)
            # the overlay holds a private copy of its lower layer: the mount itself can go,
            # one mount fewer per layer for every later sandbox to copy and drop at its start
            _unmount(lower)
    except BaseException:
        remove(layers)
        raise
    return layers


def _adopt_foreign_dirs(source: Path, upper: Path, uid: int) -> None:
    """Folders of ``source`` owned by another system user (apt's ``lists/partial`` belongs to
    ``_apt``) would be unusable to the runtime's root, which maps only host root: give each an
    empty, opaque upper copy that the runtime's root owns. Only for the small /var layers."""
    for folder, dirs, _ in os.walk(source):
        for name in dirs:
            path = Path(folder) / name
            st = path.lstat()
            if st.st_uid == 0 and st.st_gid == 0:
                continue
            rel = path.relative_to(source)
            made = upper
            for part in rel.parts:
                made = made / part
                if not made.exists():
                    made.mkdir()
                    below = source / made.relative_to(upper)
                    os.chmod(made, stat.S_IMODE(below.lstat().st_mode))
                    os.chown(made, uid, uid)
            # opaque: the overlay must not look into the foreign folder, which the id-mapped
            # layer lets nobody (not even the mounter) read; its few files are caches anyway
            os.setxattr(made, "trusted.overlay.opaque", b"y")


def view_dir(base: Path, runtime_id: str) -> Path:
    """The runtime's view under ``base`` (see the module docstring), made if missing."""
    base.mkdir(mode=0o711, parents=True, exist_ok=True)
    view = base / runtime_id
    view.mkdir(mode=0o711, exist_ok=True)
    for d in (base, view):
        st = d.lstat()
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != 0:
            raise SandboxUnavailable("This server cannot start sandboxed runtimes.",
                                     log_message=f"{d} is not a folder owned by root")
        os.chmod(d, 0o711)
    return view


def bind(view: Path, source: str) -> str:
    """Bind-mount the host folder (or file, for example a device node) ``source`` into ``view``
    (once) and return where, for bwrap running as the runtime's uid, which may not reach
    ``source`` itself. It is opened without following a link in its last component and the
    mount takes that very object."""
    target = view / "binds" / hashlib.sha256(source.encode()).hexdigest()[:16]
    if is_mount_point(target):
        return str(target)
    target.parent.mkdir(mode=0o711, exist_ok=True)
    fd = os.open(source, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            target.mkdir(mode=0o700, exist_ok=True)
        elif not target.exists():
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                             | os.O_CLOEXEC, 0o600))
        if _libc.mount(f"/proc/self/fd/{fd}".encode(), os.fsencode(target), None,
                       _MS_BIND | _MS_REC, None) != 0:
            raise _fail(f"binding {source} at {target}")
    finally:
        os.close(fd)
    return str(target)


def remove(layers: RootLayers, *, storage: bool = True) -> None:
    """Unmount everything in a runtime's view and delete it, then its upper folders unless
    ``storage`` is false (they lie on the runtime's disk, which goes whole) (safe to repeat, and
    after a crash). Only ``rmdir`` touches the view: never a recursive delete."""
    prefix = str(layers.mounts).rstrip("/") + "/"
    for target in sorted((m for m in _mount_points() if m.startswith(prefix)),
                         key=lambda m: m.count("/"), reverse=True):
        _unmount(Path(target))
    # the view's own folders, by name: never a walk, which could enter a mount that stayed
    for kind in ("binds", "lower", "merged"):
        folder = layers.mounts / kind
        with contextlib.suppress(OSError):
            for name in os.listdir(folder):
                with contextlib.suppress(OSError):  # EBUSY: still mounted; left alone
                    if (folder / name).is_dir():
                        os.rmdir(folder / name)
                    elif not os.path.ismount(folder / name):
                        os.unlink(folder / name)  # an unmounted file's place (device nodes)
        with contextlib.suppress(OSError):
            folder.rmdir()
    for name in ("drive-slot", "drive-given"):  # a pre-started runtime's (see local.py)
        with contextlib.suppress(OSError):
            os.rmdir(layers.mounts / name)
    with contextlib.suppress(OSError):  # the network namespace's file (see netns.py)
        os.unlink(layers.mounts / "net")
    with contextlib.suppress(OSError):
        layers.mounts.rmdir()
    if storage and layers.storage.exists() and not _holds_mounts(layers.storage):
        shutil.rmtree(layers.storage, ignore_errors=True)


def _mount_id(path: Path | str) -> int:
    """The id of the mount ``path`` (not followed if a link) lies on; raises OSError."""
    fd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        with open(f"/proc/self/fdinfo/{fd}") as f:
            for line in f:
                if line.startswith("mnt_id:"):
                    return int(line.split()[1])
    finally:
        os.close(fd)
    raise OSError(f"no mount id for {path}")


def is_mount_point(path: Path) -> bool:
    """Something is mounted at ``path`` (a bind of a folder of the same file system too,
    which a comparison of device numbers misses). Two small reads, where the mount table of a
    server with many runtimes is thousands of lines."""
    try:
        return _mount_id(path) != _mount_id(path.parent)
    except OSError:
        return False


def _mount_points() -> list[str]:
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            out.append(line.split()[4].replace("\\040", " "))
    return out


def _holds_mounts(path: Path) -> bool:
    prefix = str(path).rstrip("/") + "/"
    return any(m == str(path) or m.startswith(prefix) for m in _mount_points())


def sweep(base: Path, keep: set[str]) -> list[str]:
    """Unmount the views under ``base`` of runtimes that ended unwatched (the control plane was
    killed); ``keep`` holds the runtimes that are alive or still have an instance space. Returns
    the ids cleaned."""
    if not base.is_dir():
        return []
    cleaned = []
    for entry in base.iterdir():
        if entry.name in keep:
            continue
        remove(RootLayers(entry, entry / "no-storage"))  # storage goes with the instance space
        cleaned.append(entry.name)
    return cleaned


def shared_etc(data_dir: Path, views: Path) -> Path:
    """The lower layer of runtimes' /etc: a copy of the host's /etc without what other users may
    not read, made again when /etc changed (the folder's name is a digest of what it holds).
    Older copies stay while any runtime's view (under ``views``) is mounted."""
    listing = _readable_listing(Path("/etc"))
    digest = hashlib.sha256(repr((listing, APT_CONF)).encode()).hexdigest()[:16]
    base = data_dir / "rootfs"
    base.mkdir(mode=0o755, parents=True, exist_ok=True)
    os.chmod(base, 0o755)
    target = base / f"etc-{digest}"
    if not target.is_dir():
        tmp = base / f".etc-{digest}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        _copy_readable(Path("/etc"), tmp, listing)
        apt = tmp / "apt" / "apt.conf.d"
        if apt.is_dir():  # apt's downloads cannot drop to _apt, a user the runtime lacks
            (apt / "00dikte-runtime").write_text(APT_CONF)
        os.rename(tmp, target)
    if not _holds_mounts(views):  # no runtime's layers use an older copy
        for old in base.glob("etc-*"):
            if old != target:
                shutil.rmtree(old, ignore_errors=True)
    return target


def _world_readable(st: os.stat_result) -> bool:
    if stat.S_ISDIR(st.st_mode):
        return st.st_mode & 0o005 == 0o005
    if stat.S_ISREG(st.st_mode):
        return bool(st.st_mode & 0o004)
    return stat.S_ISLNK(st.st_mode)


def _readable_listing(root: Path) -> list[tuple[str, int, int, int]]:
    """(path, mode, size, mtime) of everything under ``root`` that other users may read; not
    descending into folders they may not enter."""
    out: list[tuple[str, int, int, int]] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for e in entries:
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            if not _world_readable(st):
                continue
            rel = os.path.relpath(e.path, root)
            out.append((rel, st.st_mode, st.st_size, int(st.st_mtime)))
            if stat.S_ISDIR(st.st_mode):
                stack.append(Path(e.path))
    return out


def _copy_readable(root: Path, dest: Path, listing: list[tuple[str, int, int, int]]) -> None:
    dest.mkdir(mode=0o755)
    for rel, mode, _, _ in sorted(listing):
        src, dst = root / rel, dest / rel
        try:
            if stat.S_ISLNK(mode):
                os.symlink(os.readlink(src), dst)
            elif stat.S_ISDIR(mode):
                dst.mkdir(mode=stat.S_IMODE(mode))
            else:
                shutil.copy2(src, dst, follow_symlinks=False)
            st = os.lstat(src)
            os.lchown(dst, st.st_uid, st.st_gid)
            if not stat.S_ISLNK(mode):
                os.chmod(dst, stat.S_IMODE(st.st_mode))
        except OSError:
            continue  # vanished or unreadable meanwhile: the copy simply lacks it
