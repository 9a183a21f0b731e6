"""Processes by pid (psutil underneath) answer as the /proc reading that handles were stored with."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dikte.runtimes import procs
from dikte.runtimes.terminal import procs_tree


def stat_start(pid: int) -> int:
    """Field 22 of ``/proc/<pid>/stat``: what an older server stored as ``pid_start``."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        return int(f.read().rsplit(b")", 1)[1].split()[19])


@pytest.fixture
def session() -> Iterator[subprocess.Popen[bytes]]:
    """A session leader with two children; its own exit (status 3) waits on a line on stdin."""
    leader = subprocess.Popen(["sh", "-c", "sleep 1000 & sleep 1000 | cat & read x; exit 3"],
                              stdin=subprocess.PIPE, start_new_session=True)
    yield leader
    procs.send(procs.session_pids(leader.pid) | {leader.pid}, signal.SIGKILL)
    leader.wait()


def test_start_time_is_in_clock_ticks_since_boot_as_stored() -> None:
    for pid in (os.getpid(), 1):
        assert procs.start_time(pid) == stat_start(pid)
    assert procs.is_running(os.getpid(), stat_start(os.getpid()))
    assert not procs.is_running(os.getpid(), stat_start(os.getpid()) - 1)


async def test_session_tree_and_zombie(session: subprocess.Popen[bytes]) -> None:
    leader = session.pid
    assert await procs.wait_until(lambda: len(procs_tree(leader)) == 3, 10)
    children = procs_tree(leader)
    assert procs.session_pids(leader) == children | {leader}
    assert procs.is_running(leader, stat_start(leader))

    assert session.stdin is not None
    session.stdin.write(b"\n")
    session.stdin.close()  # the leader exits; unreaped, it stays a zombie
    assert await procs.wait_until(lambda: not procs.is_running(leader, None), 10)
    info = procs.proc_info(leader)
    assert info is not None and info.ended and info.exit_code == 3
    assert info.start_time == stat_start(leader)
    assert procs.session_pids(leader) == children  # the zombie is not counted; orphans still are
    assert procs_tree(leader) == set()

    session.wait()
    assert procs.proc_info(leader) is None


@pytest.mark.parametrize("blocked", [set(), {signal.SIGINT, signal.SIGTERM}])
def test_a_spawned_runtime_blocks_no_signal(tmp_path: Path, blocked: set[int]) -> None:
    # Ray's node processes block SIGINT and a node's host inherits that: a kernel started with
    # the mask blocked SIGINT too and never heard an interrupt. Starts from a thread with an
    # empty mask (the server's) take Python's light vfork path, the others clear the mask.
    seen: list[str] = []

    def start() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        child = procs.spawn(["grep", "SigBlk", "/proc/self/status"], tmp_path / "log",
                            cwd="/", env={"PATH": "/usr/bin:/bin"})
        child.wait()
        seen.append((tmp_path / "log").read_text())

    thread = threading.Thread(target=start)
    thread.start()
    thread.join()
    assert seen and seen[0].split() == ["SigBlk:", "0" * 16], seen
