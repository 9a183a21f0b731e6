"""Processes by pid, read from /proc, for runtimes that may not be our children.

A runtime outlives the control plane that started it, so after a restart its processes are nobody's
children we can wait on. A pid is only trusted together with its start time (field 22 of
``/proc/<pid>/stat``), which guards against pid reuse.
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


@dataclass(frozen=True)
class ProcInfo:
    state: str
    start_time: int
    exit_code: int | None
    """For a zombie, its wait status decoded like ``Popen.returncode``; else None."""


def proc_info(pid: int) -> ProcInfo | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode("ascii", "replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    state = fields[0]
    exit_code = None
    if state in ("Z", "X") and len(fields) > 49:
        status = int(fields[49])
        exit_code = -(status & 0x7F) if status & 0x7F else (status >> 8) & 0xFF
    return ProcInfo(state=state, start_time=int(fields[19]), exit_code=exit_code)


def start_time(pid: int) -> int | None:
    info = proc_info(pid)
    return None if info is None else info.start_time


def is_running(pid: int, started: int | None) -> bool:
    """True while ``pid`` is the same process (same start time) and not a zombie."""
    info = proc_info(pid)
    if info is None or info.state in ("Z", "X"):
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


def spawn(
    argv: list[str],
    log: Path,
    *,
    cwd: Path | str,
    env: dict[str, str],
    pass_fds: tuple[int, ...] = (),
) -> subprocess.Popen[bytes]:
    """Start a runtime's top process: its own session (a control-plane Ctrl-C or exit does not
    reach it), no stdin, output appended to ``log`` (a file, never a pipe, so it survives us)."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, cwd=cwd, env=env, pass_fds=pass_fds,
        )


def session_pids(sid: int) -> set[int]:
    """Live processes in session ``sid`` (a kernel started with ``start_new_session`` leads one;
    its children stay in it even when orphaned)."""
    out: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                raw = f.read().decode("ascii", "replace")
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        if fields[0] not in ("Z", "X") and int(fields[3]) == sid:
            out.add(int(entry))
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
