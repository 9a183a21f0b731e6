"""Enter a runtime's sandbox as its user: the one privileged step of the runtime terminal.

Run by the control plane, as root, as a separate program (``python -I -S enter.py FD``; stdlib
only, it never imports Dikte) with its settings as JSON on the pipe ``FD``. It:

1. joins the runtime's cgroup(s) (host paths Dikte recorded);
2. opens the namespaces of the sandbox's pid 1, the process Dikte recorded when it started the
   sandbox (``bwrap --info-fd``), and checks that it is still that process (its start time) and
   that its mount namespace is the recorded one. Nothing is found by scanning, so a process the
   runtime made (its own namespaces, a reused pid) is never entered;
3. joins them (mount namespace last) and forks, so that the child is inside the sandbox's pid
   namespace; the parent only waits and passes on the exit status;
4. in the child, before anything else runs there: becomes the runtime's user, sets no_new_privs
   and loads the runtime's seccomp filter, and only then changes to /content and executes
   ``/bin/bash -l``. Where the runtime is root of its own user namespace (Dikte runs as root),
   the user namespace is joined last and the shell is that namespace's root, with the
   capabilities the kernel has there and none on the host; otherwise the runtime's user is a
   host uid and every capability is dropped, the bounding set included.

So the only program executed inside the sandbox's file system view is the shell, already
unprivileged; the root part runs this file's code only, loaded from the host before any
namespace was joined (all imports are at the top; nothing is imported later).
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import sys
import termios
from typing import Any, NoReturn

_NAMESPACES = (  # (name under /proc/PID/ns, CLONE_NEW* flag); the mount namespace last
    ("cgroup", 0x02000000), ("ipc", 0x08000000), ("uts", 0x04000000), ("net", 0x40000000),
    ("pid", 0x20000000), ("mnt", 0x00020000),
)
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
CAP_LAST = 63
CLONE_NEWUSER = 0x10000000


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_libc = ctypes.CDLL(None, use_errno=True)


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"dikte: {message}\r\n")
    sys.stderr.flush()
    os._exit(1)


def _check(result: int, what: str) -> None:
    if result != 0:
        _fail(f"{what} failed: {os.strerror(ctypes.get_errno())}")


def _start_time(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        raw = f.read().decode("ascii", "replace")
    return int(raw[raw.rindex(")") + 2:].split()[19])


def _enter(cfg: dict[str, Any]) -> None:
    pid = int(cfg["pid"])
    os.setgroups([])  # host root's groups must not come along into a user namespace
    for path in cfg["cgroup_procs"]:
        with open(path, "w") as f:
            f.write(str(os.getpid()))
    fds = []
    try:
        for name, flag in _NAMESPACES:
            fds.append((os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC), flag))
        # checked after opening: a pid reused in between has another start time
        if _start_time(pid) != int(cfg["start"]):
            _fail("the runtime is not running any more; reconnect it.")
    except OSError:
        _fail("the runtime is not running any more; reconnect it.")
    st = os.fstat(fds[-1][0])
    if [st.st_dev, st.st_ino] != list(cfg["mnt_ns"]):
        _fail("the runtime's sandbox is not the one Dikte started; reconnect it.")
    if cfg["userns"]:  # last: once in it, this process has no power over the host's namespaces
        fds.append((os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC), CLONE_NEWUSER))
    for fd, flag in fds:
        _check(_libc.setns(fd, flag), "joining the runtime's namespaces")
        os.close(fd)


def _become_user(cfg: dict[str, Any], program: ctypes.Array[ctypes.c_char]) -> None:
    uid = int(cfg["uid"])
    if not cfg["userns"]:  # a host uid: nothing privileged may remain
        for cap in range(CAP_LAST + 1):
            _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # EINVAL past the kernel's last cap
    # in a user namespace uid 0 is its root (the runtime's host uid), like the kernel
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    prog = _SockFprog(len(program) // 8, ctypes.cast(program, ctypes.c_void_p))
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0),
           "loading the seccomp filter")


def main() -> None:
    with os.fdopen(int(sys.argv[1]), "rb") as f:
        cfg = json.loads(f.read())
    raw = bytes.fromhex(cfg["seccomp"])
    program = ctypes.create_string_buffer(raw, len(raw))
    _enter(cfg)
    child = os.fork()
    if child:
        _, status = os.waitpid(child, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    _become_user(cfg, program)
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    try:
        os.chdir("/content")
    except OSError:
        os.chdir("/")
    os.execve("/bin/bash", ["bash", "-l"], cfg["env"])


if __name__ == "__main__":
    main()
