"""Files the control plane (root) writes into a folder the runtime owns: the kernel socket
folder, bound at /run/dikte in the sandbox. The runtime can put a link, or swap one in, under
any name there; a write, chmod or chown through such a name would reach a host file."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from dikte.runtimes.base import RuntimeHandle
from dikte.runtimes.instance import write_connection_file
from dikte.runtimes.notices import notice_path, write_notice

TRIES = 2000


def _handle(sock: Path) -> RuntimeHandle:
    return RuntimeHandle(runtime_id="r1", connection={"ip": str(sock / "kernel")},
                         started_at=0.0, memory_limit=0,
                         private={"pid": 1, "instance_dir": str(sock.parent)})


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A host file only root may read or change."""
    path = tmp_path / "host-secret"
    path.write_text("secret\n")
    os.chmod(path, 0o600)
    return path


def test_notice_is_not_written_through_a_link(tmp_path: Path, victim: Path) -> None:
    sock = tmp_path / "sock"
    sock.mkdir()
    for name in (".notice.json.tmp", "notice.json.tmp", ".notice.tmp"):
        os.symlink(victim, sock / name)
    write_notice(_handle(sock), {"code": "max_lifetime", "message": "soon", "at": 1.0})
    assert victim.read_text() == "secret\n"
    assert victim.stat().st_mode & 0o777 == 0o600
    assert json.loads(notice_path(_handle(sock)).read_text())["code"] == "max_lifetime"


def test_notice_replaces_a_link_not_its_target(tmp_path: Path, victim: Path) -> None:
    sock = tmp_path / "sock"
    sock.mkdir()
    os.symlink(victim, sock / "notice.json")
    write_notice(_handle(sock), {"code": "idle", "message": "soon", "at": 1.0})
    assert victim.read_text() == "secret\n"
    assert not (sock / "notice.json").is_symlink()


def _swap_in_links(folder: str, name: str, target: str, stop: multiprocessing.Event) -> None:
    """The runtime's side: move the new file away and put a link to a host file in its place."""
    path = os.path.join(folder, name)
    aside = os.path.join(folder, "aside")
    while not stop.is_set():
        try:
            os.rename(path, aside)
            os.symlink(target, path)
        except OSError:
            pass


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to the runtime's uid needs root")
def test_connection_file_chown_reaches_only_the_file(tmp_path: Path, victim: Path) -> None:
    sock = tmp_path / "sock"
    sock.mkdir()
    stop = multiprocessing.Event()
    swapper = multiprocessing.Process(target=_swap_in_links,
                                      args=(str(sock), "kernel.json", str(victim), stop))
    swapper.start()
    try:
        for _ in range(TRIES):
            try:
                os.unlink(sock / "kernel.json")
            except FileNotFoundError:
                pass
            try:
                write_connection_file(sock / "kernel.json", {"key": "k"}, 654321)
            except (FileExistsError, FileNotFoundError):
                pass  # the link came first (refused), or the file was moved away first
            if victim.stat().st_uid != 0:
                break
    finally:
        stop.set()
        swapper.join(30)
    assert victim.stat().st_uid == 0, "a chown followed a link the runtime swapped in"
