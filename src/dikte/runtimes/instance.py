"""The instance space: a runtime's private directories on the host.

::

    <data_dir>/runtimes/<runtime_id>/
        content/   -> /content (the kernel's cwd, empty at start)
        tmp/       -> /tmp
        home/      -> /root (HOME)
        site/      -> /opt/dikte/site (pip's prefix: packages installed by the runtime)
        sock/      -> /run/dikte (ipc kernel sockets and kernel.json); when its paths are too
                      long for a unix socket, the control plane reaches it through a link
                      /tmp/dikte-ipc[-<uid>]/<runtime_id> -> sock/
        etc/       passwd and group shown inside the sandbox
        kernel.log the kernel's stdout and stderr
        rootfs-upper/  what the runtime changed of its system layers (see rootfs)
    <data_dir>/runtimes/<runtime_id>.img   the runtime's disk, when it has one

With a disk (:mod:`dikte.runtimes.disk`, when Dikte runs as root) the folder is the root of a file
system of the runtime's disk limit, so everything above shares that limit and is measured in
O(1). Without one (Dikte not root) it is a plain folder, measured by a walk.

Everything here is deleted when the runtime stops.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dikte.runtimes import disk

SOCKET_NAMES = ("shell", "iopub", "stdin", "control", "hb")
MAX_SOCKET_PATH = 100  # zmq/unix sockets allow ~107 bytes; keep a margin


def short_socket_base() -> Path:
    """Where sock dirs go when the data dir is too deep for unix socket paths."""
    if os.geteuid() == 0:
        return Path("/tmp/dikte-ipc")
    return Path(f"/tmp/dikte-ipc-{os.geteuid()}")


def _private_dir(path: Path) -> None:
    """Create ``path`` as a 0700 directory owned by us; refuse one someone else planted."""
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    st = path.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise RuntimeError(f"{path} is not a directory owned by uid {os.geteuid()}")
    os.chmod(path, 0o700)


@dataclass(frozen=True)
class InstanceSpace:
    root: Path
    sock: Path
    """Where the control plane reaches the kernel sockets: :attr:`sock_store` or a short link
    to it."""

    @classmethod
    def plan(cls, data_dir: Path, runtime_id: str) -> InstanceSpace:
        root = Path(os.path.abspath(data_dir)) / "runtimes" / runtime_id
        sock = root / "sock"
        if len(str(sock / "kernel-5")) >= MAX_SOCKET_PATH:
            sock = short_socket_base() / runtime_id
        return cls(root, sock)

    @property
    def sock_store(self) -> Path:
        """The kernel socket folder itself (bound at /run/dikte), inside the instance space."""
        return self.root / "sock"

    @property
    def image(self) -> Path:
        """The runtime's disk image (present only when it has a disk)."""
        return self.root.with_name(f"{self.root.name}.img")

    @property
    def content(self) -> Path:
        return self.root / "content"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def site(self) -> Path:
        return self.root / "site"

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def log(self) -> Path:
        return self.root / "kernel.log"

    @property
    def connection_file(self) -> Path:
        return self.sock / "kernel.json"

    def user_dirs(self) -> tuple[Path, ...]:
        return (self.content, self.tmp, self.home, self.site, self.sock_store)

    def create(self, uid: int | None, disk_bytes: int | None = None) -> None:
        """Make the directories, empty; give the user's ones to ``uid`` (when we are root).
        With ``disk_bytes`` the instance space is the root of a disk of that size (see
        :mod:`dikte.runtimes.disk`; needs root). Raises FileExistsError when it exists."""
        runtimes = self.root.parent
        runtimes.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.root.mkdir(mode=0o700)
        if disk_bytes is not None:
            try:
                disk.make(self.image, self.root, disk_bytes)
            except BaseException:
                self.root.rmdir()
                raise
        for d in (*self.user_dirs(), self.etc):
            d.mkdir(mode=0o700)
        os.chmod(self.etc, 0o755)
        if self.sock != self.sock_store:
            _private_dir(self.sock.parent)
            remove_tree(self.sock)  # a link left by a runtime of the same id that crashed
            os.symlink(self.sock_store, self.sock)
        if uid is not None:
            for d in self.user_dirs():
                os.chown(d, uid, uid)

    @property
    def has_disk(self) -> bool:
        return disk.is_mounted(self.root)

    def write_identity(self, uid: int) -> tuple[Path, Path]:
        """passwd and group files naming ``uid`` as user ``dikte`` with home /root."""
        passwd = self.etc / "passwd"
        group = self.etc / "group"
        lines = ["root:x:0:0:root:/root:/bin/sh"] if uid != 0 else []
        passwd.write_text(
            "\n".join([*lines, f"dikte:x:{uid}:{uid}:Dikte runtime:/root:/bin/bash",
                       "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin", ""])
        )
        glines = ["root:x:0:"] if uid != 0 else []
        group.write_text("\n".join([*glines, f"dikte:x:{uid}:", "nogroup:x:65534:", ""]))
        for f in (passwd, group):
            os.chmod(f, 0o644)
        return passwd, group

    def clear_sockets(self) -> None:
        """Remove a previous kernel's sockets and connection file (before a restart)."""
        if not self.sock.is_dir():
            return
        for entry in self.sock.iterdir():
            if entry.name.startswith("kernel"):
                entry.unlink(missing_ok=True)

    def sockets_ready(self) -> bool:
        return all((self.sock / f"kernel-{n}").exists() for n in range(1, 6))

    def log_tail(self, lines: int = 20) -> str:
        try:
            with open(self.log, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 8192))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def disk_bytes(self) -> int:
        """Bytes in use: of the disk when there is one (O(1)), else of the files under the
        instance space (a walk, not following links)."""
        if self.has_disk:
            return disk.used_bytes(self.image, self.root)
        total = 0
        for dirpath, dirnames, filenames in os.walk(self.root):
            for name in (*filenames, *dirnames):
                try:
                    total += os.lstat(os.path.join(dirpath, name)).st_size
                except OSError:
                    pass
        return total

    def remove(self) -> None:
        """Delete everything; tolerant of files the runtime made unwritable, and idempotent.
        A disk is unmounted and its image deleted (no walk); call it only once no process of
        the runtime is left and nothing else is mounted from it (see rootfs.remove)."""
        if self.sock != self.sock_store:
            remove_tree(self.sock)
        disk.remove(self.image, self.root)
        remove_tree(self.root)


def remove_tree(path: Path) -> None:
    """``rm -rf`` that also removes directories the runtime made read-only; never follows links."""
    if path.is_symlink():
        path.unlink()
        return
    if not path.exists():
        return
    if os.geteuid() != 0:  # root ignores modes; anyone else makes every directory writable first
        os.chmod(path, 0o700)
        for dirpath, dirnames, _ in os.walk(path):
            for name in dirnames:
                p = os.path.join(dirpath, name)
                if not os.path.islink(p):
                    os.chmod(p, 0o700)
    shutil.rmtree(path)


def new_connection(host_ip: str, kernel_ip: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Connection info for the control plane (``host_ip``) and for the kernel (``kernel_ip``):
    ipc transport, ports 1..5, a fresh random key."""
    info: dict[str, Any] = {
        "transport": "ipc",
        "signature_scheme": "hmac-sha256",
        "key": secrets.token_hex(32),
        "kernel_name": "python3",
    }
    for n, name in enumerate(SOCKET_NAMES, start=1):
        info[f"{name}_port"] = n
    return {**info, "ip": host_ip}, {**info, "ip": kernel_ip}


def write_connection_file(path: Path, info: dict[str, Any], uid: int | None) -> None:
    """Create the kernel's connection file; it must not exist yet. The folder is the runtime's
    own, so the file is made and handed over by descriptor: a link swapped in under its name is
    never written, chmod-ed or chown-ed through."""
    write_in_folder(path.parent, path.name, json.dumps(info).encode(), mode=0o600, uid=uid)


def write_in_folder(folder: Path, name: str, data: bytes, *, mode: int,
                    uid: int | None = None, replace: bool = False) -> None:
    """Write ``data`` to ``folder/name`` where the runtime controls the names in ``folder`` (not
    ``folder`` itself). The file is created new (``O_EXCL|O_NOFOLLOW``) relative to the open
    folder, its mode and owner set through its descriptor; with ``replace`` it is written under
    a fresh name and renamed over ``name`` (atomic for readers; a link there is replaced, not
    followed). Raises FileExistsError when ``name`` exists and ``replace`` is false."""
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        target = f".{name}.{secrets.token_hex(8)}.tmp" if replace else name
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600, dir_fd=dir_fd)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                os.fchmod(f.fileno(), mode)
                if uid is not None:
                    os.fchown(f.fileno(), uid, uid)
            if replace:
                os.rename(target, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            try:
                os.unlink(target, dir_fd=dir_fd)
            except OSError:
                pass
            raise
    finally:
        os.close(dir_fd)
