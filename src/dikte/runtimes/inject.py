"""Mount a person's drive inside a running sandbox: the step that gives a pre-started runtime
to its person (see LocalBackend.assign).

Joining a mount namespace takes a thread that shares its file-system attributes (root, working
folder) with no other, so :func:`place` runs the work on a thread of its own, made for it: the
thread first takes a private copy of those attributes (``unshare(CLONE_FS)``), so that no other
thread of the control plane ever sees the sandbox's file system, and it ends when the work is
done (a thread is never reused after it joined). It opens the mount namespace of the sandbox's
pid 1, the process recorded when the sandbox started, checks that it is still that process (its
start time) and that namespace (device, inode), joins it and moves each detached, id-mapped
mount (``open_tree`` clones the control plane made) onto its place, never following a link
there. Nothing runs inside the sandbox, and nothing is found by scanning, so a process the
runtime made (a reused pid, namespaces of its own) is never entered.

An earlier version ran this as a program of its own (a fresh Python for every connect given a
runtime started ahead): its start was most of such a connect's time.

A mount made this way belongs to the sandbox's mount namespace only: no mount or unmount on
the host reaches it by propagation, and it ends with the sandbox.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Sequence

from dikte.errors import RuntimeUnavailable

CLONE_FS = 0x00000200
CLONE_NEWNS = 0x00020000
SYS_MOVE_MOUNT = 429  # the same on x86-64 and arm64
MOVE_MOUNT_F_EMPTY_PATH = 0x4
AT_FDCWD = -100

_libc = ctypes.CDLL(None, use_errno=True)


class _Refused(Exception):
    pass


def _start_time(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        raw = f.read().decode("ascii", "replace")
    return int(raw[raw.rindex(")") + 2:].split()[19])


def _join_and_move(pid: int, start: int, mnt_ns: Sequence[int],
                   mounts: Sequence[tuple[int, str]]) -> None:
    """On a thread of its own, which never does anything else afterwards."""
    if _libc.unshare(CLONE_FS) != 0:
        raise _Refused(f"a private root for the joining thread: "
                       f"{os.strerror(ctypes.get_errno())}")
    try:
        ns = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        raise _Refused("the runtime's sandbox is not running any more") from None
    try:
        try:  # checked after opening: a pid reused in between has another start time
            alive = _start_time(pid) == start
        except (OSError, ValueError):
            alive = False
        if not alive:
            raise _Refused("the runtime's sandbox is not running any more")
        st = os.fstat(ns)
        if [st.st_dev, st.st_ino] != list(mnt_ns):
            raise _Refused("the runtime's sandbox is not the one Dikte started")
        if _libc.setns(ns, CLONE_NEWNS) != 0:
            raise _Refused(f"joining the sandbox's mount namespace: "
                           f"{os.strerror(ctypes.get_errno())}")
    finally:
        os.close(ns)
    for fd, target in mounts:
        if _libc.syscall(SYS_MOVE_MOUNT, fd, b"", AT_FDCWD, os.fsencode(target),
                         MOVE_MOUNT_F_EMPTY_PATH) != 0:
            raise _Refused(f"mounting at {target}: {os.strerror(ctypes.get_errno())}")


def place(pid: int, start: int, mnt_ns: Sequence[int], mounts: Sequence[tuple[int, str]],
          runtime_id: str) -> None:
    """Move each detached mount ``(fd, target)`` onto ``target`` in the mount namespace of the
    sandbox whose pid 1 is ``pid`` (started at ``start``, namespace ``mnt_ns``: device, inode).
    Raises RuntimeUnavailable, saying why, when it cannot."""
    failed: list[str] = []

    def work() -> None:
        try:
            _join_and_move(pid, start, mnt_ns, mounts)
        except _Refused as exc:
            failed.append(str(exc))
        except BaseException as exc:
            failed.append(f"{type(exc).__name__}: {exc}")

    thread = threading.Thread(target=work, name=f"join-{runtime_id}", daemon=True)
    thread.start()
    thread.join()
    if failed:
        raise RuntimeUnavailable(
            "The runtime started ahead could not be given your drive.",
            log_message=f"runtime {runtime_id}: placing its drive: {failed[0]}")
