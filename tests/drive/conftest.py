"""Fixtures for the drive tests.

- ``drives``: a folder holding drive roots, like ``<data_dir>/drives``.
- ``drive``: a fresh :class:`Drive` at ``drives/1`` with no quota and no owner.
- ``outside``: a folder beside the drives holding ``secret.txt``; nothing may reach it.
- ``sibling``: another person's drive root at ``drives/10`` holding ``theirs.txt``.
- ``chunks``: turns byte strings into the async iterator an upload delivers.
- ``tiny_fs``: a 1 MiB tmpfs mounted for the test (skipped where mounting is not allowed).
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from dikte.drive import Drive


@pytest.fixture
def drives(tmp_path: Path) -> Path:
    path = tmp_path / "drives"
    path.mkdir()
    return path


@pytest.fixture
def drive(drives: Path) -> Drive:
    return Drive(drives / "1")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "outside"
    path.mkdir()
    (path / "secret.txt").write_text("secret")
    return path


@pytest.fixture
def sibling(drives: Path) -> Path:
    path = drives / "10"
    path.mkdir()
    (path / "theirs.txt").write_text("theirs")
    return path


@pytest.fixture
def chunks() -> Callable[..., AsyncIterator[bytes]]:
    async def gen(*parts: bytes) -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    return gen


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)
