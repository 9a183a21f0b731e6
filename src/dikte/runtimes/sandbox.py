"""The bubblewrap command line for one runtime.

Inside the sandbox a kernel sees: a read-only system (/usr, /etc and the image's Python prefixes at
their host paths), a fresh /proc for its own pid namespace, a minimal /dev, and its own writable
/content, /content/drive/MyDrive (its owner's drive), /tmp, /root, /opt/dikte/site and /run/dikte
(kernel sockets). Nothing else of the host: not Dikte's data dir, not other drives or runtimes.

Dikte's in-runtime code is bound read-only: the ``dikte`` package at /opt/dikte/lib/dikte (so
``import dikte.kernel`` works; the image's own install of Dikte, editable or not, comes later on
the path) and the ``google.colab`` compatibility package at /opt/dikte/colab. ``PYTHONPATH`` is
/opt/dikte/colab, then the package layer (the site-packages of ``pip``'s prefix /opt/dikte/site),
then /opt/dikte/lib and the folder that keeps the old top-level ``dikte_runtime`` importing. The
kernel starts with Dikte's IPython extension (``dikte.kernel.extension``); a kernel whose
extension fails still starts.

When Dikte runs as root, each runtime has a network of its own (see :mod:`dikte.runtimes.netns`):
the launcher starts inside it, /etc/resolv.conf names its DNS forwarder, and the control plane's
socket folder is bound at /run/dikte-control. With ``runtime_network = "host"`` (or not as root)
the runtime shares the host's network, its loopback services and abstract unix sockets.

When Dikte runs as root, bwrap runs as root without a user namespace (so it can bind image paths
under /root, for example a pyenv Python) and the kernel drops to ``sandbox_uid_base + owner_id``
with no capabilities through ``setpriv``; bwrap sets no_new_privs. Otherwise bwrap makes its own
user namespace and drops capabilities itself.

bwrap's options travel through a pipe (``--args FD``), so the sandbox's /proc/1/cmdline shows no
host paths or environment values.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dikte.errors import RuntimeUnavailable, SandboxUnavailable
from dikte.runtimes.netns import CONTROL_DIR

KERNEL_SOCKET_DIR = "/run/dikte"
SITE_DIR = "/opt/dikte/site"
LIB_DIR = "/opt/dikte/lib"
"""Holds the ``dikte`` package (src/dikte, read-only): ``import dikte.kernel`` in a runtime."""
COLAB_DIR = "/opt/dikte/colab"
"""Holds ``google/colab`` (src/dikte/kernel/colab, read-only); ``google`` is a namespace package."""
DIKTE_PACKAGE = Path(__file__).resolve().parents[1]
KERNEL_HELPERS = DIKTE_PACKAGE / "kernel"
COLAB_PACKAGE = KERNEL_HELPERS / "colab"
KERNEL_EXTENSION = "dikte.kernel.extension"
KERNEL_LAUNCHER = f"{LIB_DIR}/dikte/kernel/launch.py"
"""The kernel's program in a runtime: ipykernel with a deep iopub queue (nothing printed is
dropped while the server is busy), run by its path (it starts whatever the runtime's path)."""
DRIVE_DIR = "/content/drive/MyDrive"
LEGACY_DRIVE_DIR = "/content/drive/My Drive"
"""The same drive at the name Colab used first, which old notebooks still write (bound too)."""
SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")

_PROBE = (
    "import importlib.util, json, os, sys, sysconfig; "
    "scheme = getattr(sysconfig, 'get_preferred_scheme', lambda k: 'posix_prefix')('prefix'); "
    "where = sysconfig.get_paths(scheme=scheme, vars={'base': '/@', 'platbase': '/@'}); "
    "print(json.dumps({"
    "'site': sorted({where[k][3:] for k in ('purelib', 'platlib')}),"
    "'prefixes': [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix],"
    "'executable': os.path.realpath(sys.executable),"
    "'ipykernel': importlib.util.find_spec('ipykernel') is not None}))"
)


@dataclass(frozen=True)
class PythonLayout:
    """What of the host an image's python needs to run."""

    python: str
    bin_dir: str
    """Directory of the python as configured (first on PATH in the runtime)."""
    roots: tuple[str, ...]
    """Directories to bind read-only, outside /usr."""
    site: tuple[str, ...] = ()
    """Where ``pip install --prefix P`` puts packages for this python, relative to P (for
    example ``lib/python3.11/site-packages``); empty: P itself."""


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _executable(python: str) -> str:
    path = os.path.abspath(python)
    if not os.access(path, os.X_OK):
        raise RuntimeUnavailable(
            "The runtime image is broken: its Python was not found.",
            log_message=f"image python {path} is missing or not executable",
        )
    return path


async def probe_python(python: str, within: float = 30.0) -> PythonLayout:
    """Ask ``python`` where it lives. Raises RuntimeUnavailable when it cannot run or lacks
    ipykernel."""
    path = _executable(python)
    proc = await asyncio.create_subprocess_exec(
        path, "-I", "-c", _PROBE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), within)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeUnavailable(
            "The runtime image did not answer in time.",
            log_message=f"probing {path} timed out",
        ) from None
    if proc.returncode != 0:
        raise RuntimeUnavailable(
            "The runtime image is broken: its Python does not run.",
            log_message=f"probing {path} failed: {err.decode(errors='replace')[-2000:]}",
        )
    info = json.loads(out)
    if not info["ipykernel"]:
        raise RuntimeUnavailable(
            "The runtime image has no ipykernel, so it cannot run notebooks.",
            log_message=f"image python {path} cannot import ipykernel",
        )
    return _layout(path, info)


def _layout(path: str, info: dict[str, Any]) -> PythonLayout:
    candidates = [*info["prefixes"], os.path.dirname(info["executable"]), os.path.dirname(path)]
    roots: list[str] = []
    for c in sorted({os.path.normpath(c) for c in candidates}, key=len):
        if _inside(c, "/usr") or any(_inside(c, r) for r in roots):
            continue
        roots.append(c)
    return PythonLayout(python=path, bin_dir=os.path.dirname(path), roots=tuple(roots),
                        site=tuple(info["site"]))


def runtime_pythonpath(colab: str, site: str, lib: str, site_dirs: Sequence[str] = ()) -> str:
    """A runtime's PYTHONPATH: ``google.colab`` first (a pip-installed google-colab must not
    shadow it), the package layer (``site_dirs`` under the prefix ``site``), Dikte's package, and
    the folder of the old ``dikte_runtime``. The image's own site-packages (and an editable
    install's path entry) come after them."""
    layer = [f"{site}/{d}" for d in site_dirs] or [site]
    return ":".join([colab, *layer, lib, f"{lib}/dikte/kernel/legacy"])


def kernel_env(layout: PythonLayout, extra: Mapping[str, str], *, root: bool = False,
               pip_prefix: bool = True) -> dict[str, str]:
    """The kernel's environment; ``root``: the runtime is root of its own user namespace;
    ``pip_prefix``: pip installs into the package layer (the image itself is read-only)."""
    user = "root" if root else "dikte"
    env = {
        "HOME": "/root",
        "USER": user,
        "LOGNAME": user,
        "SHELL": "/bin/bash",
        "PATH": f"{layout.bin_dir}:{SITE_DIR}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                "/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "TERM": "xterm-256color",
        "PYTHONPATH": runtime_pythonpath(COLAB_DIR, SITE_DIR, LIB_DIR, layout.site),
        "DIKTE_DRIVE": DRIVE_DIR,
        "DIKTE_NOTICE_FILE": f"{KERNEL_SOCKET_DIR}/notice.json",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    if pip_prefix:
        # a prefix, not a target: pip then sees what the image has ("already satisfied"), and
        # its build isolation (which passes --prefix itself) works for packages without wheels;
        # but an explicit --target, --user or --prefix then conflicts with it
        env["PIP_PREFIX"] = SITE_DIR
    env.update(extra)
    suffix = env.pop(PATH_SUFFIX, "")
    if suffix:  # e.g. where the GPU driver keeps nvidia-smi (/usr/local/nvidia/bin)
        env["PATH"] += ":" + suffix
    return env


PATH_SUFFIX = "DIKTE_PATH_SUFFIX"
"""An extra variable naming directories to append to the runtime's PATH (not passed on)."""


@dataclass(frozen=True)
class SandboxPaths:
    """Host paths bound into one sandbox."""

    content: Path
    drive: Path
    tmp: Path
    home: Path
    site: Path
    sock: Path
    passwd: Path
    group: Path


def bwrap_options(
    runtime_id: str,
    paths: SandboxPaths,
    layout: PythonLayout,
    env: Mapping[str, str],
    *,
    forbidden: Path,
    as_root: bool,
    device_binds: Sequence[tuple[str, str]] = (),
    masked_paths: Sequence[str] = (),
    seccomp_fd: int | None = None,
    info_fd: int | None = None,
    system: Mapping[str, Path] | None = None,
    via: Callable[[str], str] | None = None,
    network: tuple[str, str] | None = None,
) -> list[str]:
    """bwrap's options (everything before the command). ``forbidden`` (the data dir) must not
    be reachable through any image path. ``seccomp_fd`` is a pipe holding the filter of
    :mod:`dikte.runtimes.seccomp`; bwrap writes the sandbox's pid 1 (``child-pid``) to
    ``info_fd``.

    With ``system`` (the runtime's writable system folders, see :mod:`dikte.runtimes.rootfs`:
    layer -> merged overlay) the sandbox is a user namespace whose root is the runtime's host
    uid, keeping its capabilities inside it, and bwrap runs as that uid: every host folder is
    then bound from ``via(path)``, a place the caller made that bwrap can reach.

    With ``network`` (the runtime has a network of its own, see :mod:`dikte.runtimes.netns`):
    ``(resolv.conf, control folder)``, the name servers file to use and the host folder of the
    control plane's socket, bound read-only at /run/dikte-control."""
    for root in (*layout.roots, str(DIKTE_PACKAGE)):
        if _inside(str(forbidden), root):
            raise SandboxUnavailable(
                "The runtime image lives in a directory that also holds Dikte's data; "
                "it cannot be sandboxed.",
                log_message=f"image path {root} contains the data dir {forbidden}",
            )
    opts = ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--hostname", f"dikte-{runtime_id}", "--new-session", "--clearenv"]
    if seccomp_fd is not None:
        opts += ["--seccomp", str(seccomp_fd)]
    if info_fd is not None:
        opts += ["--info-fd", str(info_fd)]
    if system is not None:
        opts += ["--unshare-user", "--disable-userns", "--uid", "0", "--gid", "0",
                 "--cap-add", "ALL"]
    elif not as_root:
        opts += ["--unshare-user", "--cap-drop", "ALL"]
    for key, value in env.items():
        opts += ["--setenv", key, value]

    def bind(kind: str, source: str) -> list[str]:
        return [kind, source if via is None else via(source)]

    opts += ["--bind", str(system["usr"])] if system else ["--ro-bind", "/usr"]
    opts += ["/usr"]
    for link in SYSTEM_LINKS:
        if os.path.islink(link):
            opts += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            opts += ["--ro-bind", link, link]
    if system is not None:  # /etc's copy has root; the runtime is root
        opts += ["--bind", str(system["etc"]), "/etc"]
    else:
        opts += ["--ro-bind", "/etc", "/etc",
                 "--ro-bind", str(paths.passwd), "/etc/passwd",
                 "--ro-bind", str(paths.group), "/etc/group"]
    resolv = os.path.realpath("/etc/resolv.conf")
    if network is not None:
        folder, name = os.path.split(network[0])
        opts += ["--ro-bind", os.path.join(via(folder) if via else folder, name),
                 "/etc/resolv.conf"]
    elif os.path.isfile(resolv) and not _inside(resolv, "/etc"):
        opts += ["--ro-bind", resolv, "/etc/resolv.conf"]  # e.g. systemd-resolved's stub
    opts += ["--proc", "/proc", "--dev", "/dev",
             "--perms", "1777", "--tmpfs", "/dev/shm"]
    for host, inside in device_binds:  # the runtime's accelerators: only their nodes
        if not inside.startswith("/dev/") or ".." in inside.split("/"):
            raise ValueError(f"device node {inside!r} must lie under /dev")
        opts += ["--dev-bind", via(host) if via else host, inside]
    for path in masked_paths:
        opts += ["--tmpfs", path]
    made = {"/", "/usr", "/etc", "/proc", "/dev", *SYSTEM_LINKS}
    layers: list[tuple[list[str], str]] = []
    if system is not None:  # apt and dpkg's state, writable; their logs, fresh
        layers = [(["--bind", str(merged)], f"/{layer}")
                  for layer, merged in system.items() if layer.startswith("var/")]
        layers += [(["--tmpfs"], "/var/log"), (["--dir"], "/var/log/apt")]
    binds: list[tuple[list[str], str]] = [
        (["--perms", "1777", "--tmpfs"], "/var/tmp"),
        *layers,
        (bind("--bind", str(paths.content)), "/content"),
        (bind("--bind", str(paths.drive)), DRIVE_DIR),
        (bind("--bind", str(paths.drive)), LEGACY_DRIVE_DIR),
        (bind("--bind", str(paths.tmp)), "/tmp"),
        (bind("--bind", str(paths.home)), "/root"),
        (bind("--bind", str(paths.site)), SITE_DIR),
        (bind("--bind", str(paths.sock)), KERNEL_SOCKET_DIR),
        (bind("--ro-bind", str(DIKTE_PACKAGE)), f"{LIB_DIR}/dikte"),
        (bind("--ro-bind", str(COLAB_PACKAGE)), COLAB_DIR),
        *([(bind("--ro-bind", network[1]), CONTROL_DIR)] if network is not None else []),
        # after /tmp and /root: an image may live under either
        *(((["--bind", str(system[root.strip("/")])] if system and root.strip("/") in system
             else bind("--ro-bind", root)), root) for root in layout.roots),
    ]
    for prefix, target in binds:
        opts += _parents(target, made)
        opts += [*prefix, target]
        made.add(target)
    opts += ["--chdir", "/content"]
    return opts


def prepare_mountpoints(paths: SandboxPaths, layout: PythonLayout) -> None:
    """Make every mountpoint that lies inside a directory the runtime's user owns a real
    directory, replacing symlinks and files the runtime left there.

    bwrap runs as root and follows symlinks while it creates mountpoints, so a cell that swapped
    ``/content/drive`` for a link to ``/oldroot/etc`` would otherwise make the next start create
    (and chmod) directories anywhere on the host. Call it only while no process of the runtime
    runs, so nothing can swap them back before bwrap has mounted.
    """
    owned = {"/content": paths.content, "/tmp": paths.tmp, "/root": paths.home}
    for target in (DRIVE_DIR, LEGACY_DRIVE_DIR, *layout.roots):
        inside = [m for m in owned if _inside(target, m) and target != m]
        if not inside:
            continue
        mount = max(inside, key=len)
        path = owned[mount]
        owner = path.stat()
        for part in target[len(mount):].strip("/").split("/"):
            path = path / part
            if path.is_symlink() or (path.exists() and not path.is_dir()):
                path.unlink()
            if not path.exists():
                path.mkdir(mode=0o755)
                # the runtime's own, like the folder around it: an image under /root/.cache
                # must leave /root/.cache writable (pip's, jedi's and matplotlib's caches)
                if os.geteuid() == 0 and owner.st_uid != 0:
                    os.lchown(path, owner.st_uid, owner.st_gid)


def make_dirs_beneath(root: Path, rel: str, uid: int | None) -> None:
    """``mkdir -p root/rel`` without following any link the runtime may have left on the way
    (one component at a time, relative to the open parent); new folders belong to ``uid``."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        for part in rel.strip("/").split("/"):
            if part in ("", ".", ".."):
                raise ValueError(f"bad folder name in {rel!r}")
            try:
                os.mkdir(part, 0o755, dir_fd=fd)
                made = True
            except FileExistsError:
                made = False
            child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                            dir_fd=fd)
            os.close(fd)
            fd = child
            if made and uid is not None:
                os.fchown(fd, uid, uid)
    finally:
        os.close(fd)


def _parents(target: str, made: set[str]) -> list[str]:
    """``--dir`` for each missing ancestor of ``target``, world-traversable (bwrap would make
    them 0700 as root, which the unprivileged kernel could not cross)."""
    out: list[str] = []
    parts = target.strip("/").split("/")[:-1]
    for i in range(1, len(parts) + 1):
        d = "/" + "/".join(parts[:i])
        if d not in made:
            out += ["--perms", "0755", "--dir", d]
            made.add(d)
    return out


def kernel_command(layout: PythonLayout, uid: int | None) -> list[str]:
    """The command bwrap runs: ipykernel, dropped to ``uid`` without capabilities when given."""
    kernel = [layout.python, KERNEL_LAUNCHER, "-f", f"{KERNEL_SOCKET_DIR}/kernel.json",
              f"--ext={KERNEL_EXTENSION}"]
    if uid is None:
        return kernel
    setpriv = shutil.which("setpriv", path="/usr/bin:/bin:/usr/sbin:/sbin") or "/usr/bin/setpriv"
    return [setpriv, "--reuid", str(uid), "--regid", str(uid), "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--", *kernel]


def launcher_argv(
    procs_files: list[Path], bwrap: str, args_fd: int, command: list[str],
    as_user: int | None = None,
) -> list[str]:
    """``sh`` puts itself into the runtime's cgroup(s), then becomes bwrap (as ``as_user``, with
    no capabilities and no groups, when given): every process of the sandbox is in the cgroup
    from its first instruction."""
    drop: list[str] = []
    if as_user is not None:
        setpriv = shutil.which("setpriv", path="/usr/bin:/bin:/usr/sbin:/sbin") or "/usr/bin/setpriv"
        drop = [setpriv, "--reuid", str(as_user), "--regid", str(as_user), "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--"]
    return [*in_cgroup(procs_files, "dikte-sandbox"), *drop, bwrap, "--args", str(args_fd),
            "--", *command]


def in_cgroup(procs_files: list[Path], name: str, *, background: bool = False) -> list[str]:
    """A prefix for a command line: ``sh`` (named ``name``) puts itself into the cgroup(s),
    then executes the rest; with ``background`` it starts the rest in the background (in the
    cgroup too) and exits at once."""
    joins = " && ".join(f"echo $$ > {shlex.quote(str(p))}" for p in procs_files)
    run = '"$@" &' if background else 'exec "$@"'
    script = f"{joins} || exit 1; {run}" if joins else run
    return ["/bin/sh", "-c", script, name]


def find_bwrap() -> str:
    found = shutil.which("bwrap")
    if found is None:
        raise SandboxUnavailable(
            "This server cannot start sandboxed runtimes: bubblewrap is not installed.",
            log_message="bwrap not found on PATH (apt-get install bubblewrap)",
        )
    return found
