"""Placing a mount inside another process's mount namespace (how a runtime started ahead gets
its person's drive): it lands there only, on the namespace recorded, and the control plane's own
threads never see that file system."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dikte.errors import RuntimeUnavailable
from dikte.runtimes import inject, rootfs
from dikte.runtimes.procs import start_time


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[int]:
    """A process in a mount namespace of its own (a copy of ours; nothing propagates)."""
    (tmp_path / "slot").mkdir()
    proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sleep", "600"])
    try:
        deadline = time.monotonic() + 30
        while os.stat(f"/proc/{proc.pid}/ns/mnt").st_ino == os.stat("/proc/self/ns/mnt").st_ino:
            assert time.monotonic() < deadline, "unshare made no mount namespace"
            time.sleep(0.01)
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def _tree(source: Path) -> int:
    mapping = rootfs.id_mapping(0, 0)
    try:
        return rootfs.mapped_tree(source, mapping)
    finally:
        os.close(mapping)


def _ns(pid: int) -> list[int]:
    st = os.stat(f"/proc/{pid}/ns/mnt")
    return [st.st_dev, st.st_ino]


def test_the_mount_lands_in_the_namespace_recorded_and_nowhere_else(
        tmp_path: Path, sandbox: int) -> None:
    drive = tmp_path / "drive"
    drive.mkdir()
    (drive / "mine.txt").write_text("the person's")
    cwd = os.getcwd()
    tree = _tree(drive)
    try:
        inject.place(sandbox, start_time(sandbox) or 0, _ns(sandbox),
                     [(tree, str(tmp_path / "slot"))], "r1")
    finally:
        os.close(tree)
    assert os.listdir(f"/proc/{sandbox}/root{tmp_path}/slot") == ["mine.txt"]
    assert os.listdir(tmp_path / "slot") == []  # not in the control plane's namespace
    assert os.getcwd() == cwd and os.stat("/").st_ino == os.stat(f"/proc/{os.getpid()}/root").st_ino


@pytest.mark.parametrize("wrong", ["start", "namespace", "gone"])
def test_another_process_or_namespace_is_never_entered(
        tmp_path: Path, sandbox: int, wrong: str) -> None:
    drive = tmp_path / "drive"
    drive.mkdir()
    start, ns, pid = start_time(sandbox) or 0, _ns(sandbox), sandbox
    if wrong == "start":  # the pid was reused by another process
        start += 1
    elif wrong == "namespace":  # the runtime made a namespace of its own
        ns = _ns(os.getpid())
    else:
        pid = 2**22 + 7  # beyond any pid in use
    tree = _tree(drive)
    try:
        with pytest.raises(RuntimeUnavailable) as refused:
            inject.place(pid, start, ns, [(tree, str(tmp_path / "slot"))], "r1")
    finally:
        os.close(tree)
    assert "could not be given your drive" in str(refused.value)
    assert os.listdir(f"/proc/{sandbox}/root{tmp_path}/slot") == []
