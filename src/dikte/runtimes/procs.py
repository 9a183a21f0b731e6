"""Processes by pid, for runtimes that may not be our children.

A runtime outlives the control plane that started it, so after a restart its processes are nobody's
children we can wait on. A pid is only trusted together with its start time, which guards against
pid reuse. Handles store that start as the kernel counts it, in clock ticks since boot (field 22 of
``/proc/<pid>/stat``), which no step of the wall clock changes; psutil reports it in seconds since
the epoch (boot time added), so :func:`proc_info` takes the boot time off again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psutil

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
T = TypeVar("T")
ENDED = frozenset({psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD})
"""psutil's statuses of a process that has exited (a zombie: not yet reaped)."""


@dataclass(frozen=True)
class ProcInfo:
    ended: bool
    start_time: int
    """In clock ticks since boot, as handles store it."""
    exit_code: int | None
    """For a zombie, its wait status decoded like ``Popen.returncode``; else None."""

    @property
    def state(self) -> str:
        """The letter ``/proc`` shows for an ended process ("Z"), else "": for callers that test
        ``state in ("Z", "X")``."""
        return "Z" if self.ended else ""


def proc_info(pid: int) -> ProcInfo | None:
    while True:
        boot = psutil.boot_time()
        try:
            proc = psutil.Process(pid)
            with proc.oneshot():
                status, created = proc.status(), proc.create_time()
        except psutil.NoSuchProcess:
            return None
        if psutil.boot_time() == boot:  # else the clock was set meanwhile: read again
            break
    ended = status in ENDED
    return ProcInfo(ended=ended, start_time=round((created - boot) * CLOCK_TICKS),
                    exit_code=exit_status(pid) if ended else None)


def exit_status(pid: int) -> int | None:
    """A zombie's wait status, decoded like ``Popen.returncode``: the last field of its
    ``/proc/<pid>/stat``. psutil has no call for it (its ``wait`` reaps, and only our children)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    if len(fields) <= 49:
        return None
    status = int(fields[49])
    return -(status & 0x7F) if status & 0x7F else (status >> 8) & 0xFF


def start_time(pid: int) -> int | None:
    info = proc_info(pid)
    return None if info is None else info.start_time


def is_running(pid: int, started: int | None) -> bool:
    """True while ``pid`` is the same process (same start time) and not a zombie."""
    info = proc_info(pid)
    if info is None or info.ended:
        return False
    return started is None or info.start_time == started


def send(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


async def wait_until(done: Callable[[], bool], within: float, step: float = 0.02) -> bool:
    """Poll ``done`` until it holds or ``within`` seconds pass; returns whether it held."""
    deadline = time.monotonic() + within
    while True:
        if done():
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(step)


async def end_processes(
    list_pids: Callable[[], set[int]],
    grace: float,
    popen: subprocess.Popen[bytes] | None = None,
    kill_timeout: float = 10.0,
) -> bool:
    """SIGTERM every pid ``list_pids`` returns, SIGKILL what is left after ``grace``, and repeat
    SIGKILL (a process may fork meanwhile) until none remain. Reaps ``popen`` if given. Returns
    whether everything ended."""

    def gone() -> bool:
        if popen is not None:
            popen.poll()
        return not list_pids()

    send(list_pids(), signal.SIGTERM)
    if await wait_until(gone, grace):
        return True
    deadline = time.monotonic() + kill_timeout
    while time.monotonic() < deadline:
        send(list_pids(), signal.SIGKILL)
        if await wait_until(gone, 0.2):
            return True
    return gone()


def default_signals() -> None:
    """In a child before it runs its program: no signal blocked. A process started by one
    that blocks some (Ray's node processes block SIGINT, and a node's host inherits that) would
    pass the mask on, and a kernel whose SIGINT is blocked never hears an interrupt."""
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def spawn(
    argv: list[str],
    log: Path,
    *,
    cwd: Path | str,
    env: dict[str, str],
    pass_fds: tuple[int, ...] = (),
) -> subprocess.Popen[bytes]:
    """Start a runtime's top process: its own session (a control-plane Ctrl-C or exit does not
    reach it), no stdin, output appended to ``log`` (a file, never a pipe, so it survives us).

    The child inherits this thread's signal mask; only where that blocks something does it run
    :func:`default_signals` first, which costs a full copy of this process (``fork``) instead of
    the light ``vfork`` Python uses otherwise, several milliseconds of the event loop per start
    for a server holding many runtimes."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, ())
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, cwd=cwd, env=env, pass_fds=pass_fds,
            preexec_fn=default_signals if blocked else None,
        )


def session_pids(sid: int) -> set[int]:
    """Live processes in session ``sid`` (a kernel started with ``start_new_session`` leads one;
    its children stay in it even when orphaned)."""
    out: set[int] = set()
    for pid in psutil.pids():
        try:
            if os.getsid(pid) == sid and psutil.Process(pid).status() not in ENDED:
                out.add(pid)
        except (OSError, psutil.Error):
            continue
    return out


def pipe_with(data: bytes) -> int:
    """The read end of a pipe already holding ``data`` (at most a pipe's 64 KiB), for a child
    to read settings from (``pass_fds``)."""
    r, w = os.pipe()
    try:
        os.write(w, data)
    finally:
        os.close(w)
    return r


async def settled(func: Callable[..., T], /, *args: Any) -> T:
    """``func(*args)`` off the event loop. A thread cannot be stopped, so when the caller is
    cancelled meanwhile this waits for the thread to finish before the cancellation goes on:
    whatever it made (a disk, mounts, a namespace) exists by the time the caller's clean-up
    looks for it, instead of appearing after it, left to nobody."""
    work = asyncio.ensure_future(asyncio.to_thread(func, *args))
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(work)
        except asyncio.CancelledError:
            if work.done() and not work.cancelled():
                raise
            cancelled = True
            continue
        except BaseException:
            if cancelled:
                raise asyncio.CancelledError from None
            raise
        if cancelled:
            raise asyncio.CancelledError
        return result
