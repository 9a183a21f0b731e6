"""Each runtime's own network: a network namespace with its own loopback, and user-mode
networking (slirp4netns) for outbound traffic.

The namespace is made by the control plane (root) before the sandbox starts and kept as a file
(a bind mount of the namespace) in the runtime's view, so it outlives a restart of the control
plane and is found again by name, never by scanning processes. It belongs to the host's user
namespace: the runtime, root only of its own user namespace, holds no capability over it, so it
cannot change its addresses, routes or firewall, nor open raw sockets.

slirp4netns gives it a ``tap0`` at 10.0.2.100 with a gateway (10.0.2.2) and a DNS forwarder
(10.0.2.3) that reach the internet through the host's stack, as any program of the host would;
with ``--disable-host-loopback`` the gateway does not lead to the host's 127.0.0.1, so the host's
loopback services and other runtimes' servers are out of reach. slirp4netns runs in the
runtime's cgroup (it ends with the runtime, and its memory counts against it), sandboxed in a
mount namespace of its own without capabilities, under a seccomp filter.

The control plane reaches into the namespace without entering it: :func:`run_in` runs a function
on a fresh thread that joined the namespace (``setns`` changes only the calling thread's
network), so a socket made there stays in the runtime's network (the port proxy's upstream
connections), and ``/proc/thread-self/net/tcp`` lists that network's sockets.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import select
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from dikte.errors import SandboxUnavailable

T = TypeVar("T")

DNS_SERVER = "10.0.2.3"
"""slirp4netns's DNS forwarder, the runtime's only name server."""
RESOLV_CONF = f"# Dikte: the runtime's own network (slirp4netns)\nnameserver {DNS_SERVER}\n"
CONTROL_DIR = "/run/dikte-control"
"""Where the sandbox finds the control plane's socket folder (read-only)."""
CONTROL_SOCKET = "control.sock"
CONTROL_URL = f"unix:{CONTROL_DIR}/{CONTROL_SOCKET}"
"""``DIKTE_CONTROL_URL`` of a runtime with its own network: the runtime channel over a unix
socket bound into the sandbox (the server's TCP port on the host's loopback is out of reach)."""

_CLONE_NEWNET = 0x40000000
_NS_GET_NSTYPE = 0xB703  # ioctl: the type of namespace a namespace file is (linux/nsfs.h)
_libc = ctypes.CDLL(None, use_errno=True)
_libc.setns.argtypes = (ctypes.c_int, ctypes.c_int)


def isolated(setting: str) -> bool:
    """Whether runtimes get networks of their own under the ``runtime_network`` setting: only
    when Dikte runs as root (it makes the namespaces); otherwise they share the host's."""
    return setting == "isolated" and os.geteuid() == 0


def is_namespace(path: Path) -> bool:
    """``path`` holds a network namespace (a namespace file is mounted there): the kernel says
    so of the file opened there (the plain file under it is no namespace)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        return fcntl.ioctl(fd, _NS_GET_NSTYPE) == _CLONE_NEWNET
    except OSError:
        return False
    finally:
        os.close(fd)


def control_dir(data_dir: Path) -> Path:
    """The host folder holding the control plane's socket for runtimes."""
    return data_dir / "control"


def control_socket(data_dir: Path) -> socket.socket:
    """The control plane's listening socket for runtimes with networks of their own, in
    :func:`control_dir` (made again at each start; a stale one is replaced). Anyone who can
    reach the file may connect: only the sandboxes can (the data dir is private), and the
    server answers nothing there but the runtime channel, whose every call carries the
    runtime's token."""
    folder = control_dir(data_dir)
    folder.mkdir(mode=0o755, exist_ok=True)
    os.chmod(folder, 0o755)
    path = folder / CONTROL_SOCKET
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
        os.chmod(path, 0o666)
    except BaseException:
        sock.close()
        raise
    return sock


def find_slirp() -> str | None:
    return shutil.which("slirp4netns", path="/usr/bin:/usr/sbin:/bin:/sbin")


def _setns(fd: int) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def enter(netns: Path) -> None:
    """Move the calling thread (call it before any other thread starts, and the whole process)
    into the network namespace ``netns``. Sockets made before stay where they were made."""
    fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(fd)
    finally:
        os.close(fd)


def run_in(netns: Path, fn: Callable[[], T]) -> T:
    """``fn()`` on a new thread inside the network namespace ``netns`` (a file made by
    :func:`create`); blocking. The thread ends after it, so no other work ever runs there."""
    result: list[T] = []
    error: list[BaseException] = []

    def body() -> None:
        try:
            fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
            try:
                _setns(fd)
            finally:
                os.close(fd)
            result.append(fn())
        except BaseException as exc:  # handed to the caller
            error.append(exc)

    thread = threading.Thread(target=body, name="dikte-netns", daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def connect(netns: Path, address: tuple[str, int], timeout: float) -> socket.socket:
    """A TCP connection made inside ``netns`` (it stays there wherever it is used)."""

    def dial() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.settimeout(timeout)
            sock.connect(address)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    return run_in(netns, dial)


def proc_net(netns: Path, name: str) -> str:
    """The text of ``/proc/net/<name>`` (for example ``tcp``) as seen inside ``netns``."""

    def read() -> str:
        with open(f"/proc/thread-self/net/{name}") as f:
            return f.read()

    return run_in(netns, read)


def create(path: Path) -> None:
    """Make a network namespace kept at ``path`` (a new empty file) with its loopback up."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o444)
    os.close(fd)
    proc = subprocess.run(["unshare", f"--net={path}", "ip", "link", "set", "lo", "up"],
                          stdin=subprocess.DEVNULL, capture_output=True, check=False,
                          env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"})
    if proc.returncode != 0:
        remove(path)
        raise SandboxUnavailable(
            "This server cannot give runtimes a network of their own.",
            log_message=f"unshare --net={path}: {proc.stderr.decode(errors='replace').strip()}")


def remove(path: Path) -> None:
    """Let go of the namespace kept at ``path`` and delete the file (safe to repeat)."""
    if is_namespace(path):
        subprocess.run(["umount", "--lazy", str(path)], stdin=subprocess.DEVNULL,
                       capture_output=True, check=False,
                       env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"})
    with contextlib.suppress(OSError):
        os.unlink(path)


def check(within: float = 10.0) -> str:
    """Make a namespace and bring slirp4netns up in it, as for a runtime, then undo both.
    Returns what works; raises SandboxUnavailable with the reason."""
    slirp = find_slirp()
    if slirp is None:
        raise SandboxUnavailable("slirp4netns is not installed",
                                 log_message="slirp4netns not found")
    with tempfile.TemporaryDirectory(prefix="dikte-doctor-net-") as tmp:
        path = Path(tmp) / "net"
        create(path)
        try:
            ready_r, ready_w = os.pipe()
            try:
                proc = subprocess.Popen(slirp_argv(slirp, path, ready_w), pass_fds=(ready_w,),
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT)
                os.close(ready_w)
                ready_w = -1
                up = select.select([ready_r], [], [], within)[0] and os.read(ready_r, 1) == b"1"
                names = [name for _, name in run_in(path, socket.if_nameindex)] if up else []
                proc.kill()
                out = proc.communicate()[0].decode(errors="replace").strip()
            finally:
                for fd in (ready_r, ready_w):
                    if fd >= 0:
                        os.close(fd)
            if not up:
                raise SandboxUnavailable("slirp4netns did not bring the network up",
                                         log_message=out[-300:])
        finally:
            remove(path)
    return (f"each runtime has a network of its own ({', '.join(names)}): its own loopback, "
            "the internet through slirp4netns, the host's loopback out of reach")


def slirp_argv(slirp: str, netns: Path, ready_fd: int) -> list[str]:
    return [slirp, "--configure", "--mtu=65520", "--disable-host-loopback",
            "--enable-sandbox", "--enable-seccomp", f"--ready-fd={ready_fd}",
            "--netns-type=path", str(netns), "tap0"]


def launcher_prefix(netns: Path) -> list[str]:
    """Run the sandbox's launcher inside ``netns`` (``nsenter`` is the host's, run as root
    before anything of the runtime exists)."""
    nsenter = shutil.which("nsenter", path="/usr/bin:/bin:/usr/sbin:/sbin") or "/usr/bin/nsenter"
    return [nsenter, f"--net={netns}", "--"]
