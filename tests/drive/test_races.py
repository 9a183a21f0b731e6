"""The drive's operations under a folder/link swap, called directly (no server): the quick form of
tests/security/test_drive_races.py, down to every operation of :class:`Drive` and its usage walk."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from dikte.drive import Drive
from dikte.errors import DikteError
from tests.security.test_drive_races import INSIDE, Race

TRIES = 2000


def _tries(fire: Callable[[int], object]) -> None:
    for i in range(TRIES):
        try:
            fire(i)
        except DikteError:
            pass  # refused or not found: the race may fail a request, never lead out


@pytest.fixture
def race(drive: Drive, outside: Path) -> Race:
    race = Race(drive.root / "r", outside)
    race.put("secret.txt")
    race.put("mine.txt")
    return race


def test_reads_and_listings_stay_inside(drive: Drive, race: Race, outside: Path) -> None:
    read: set[bytes] = set()
    listed: set[str] = set()
    with race:
        _tries(lambda _: read.add(drive.read_bytes("r/d/secret.txt")))
        _tries(lambda _: listed.update(e.name for e in drive.list("r/d")))
        _tries(lambda _: read.add(b"%d" % drive.stat("r/d/secret.txt").size))
    assert read <= {INSIDE, b"%d" % len(INSIDE)}
    assert listed <= {"secret.txt", "mine.txt"}


def test_writes_and_deletes_stay_inside(drive: Drive, race: Race, outside: Path) -> None:
    def delete(_: int) -> None:
        race.put("secret.txt")
        drive.delete("r/d/secret.txt")

    with race:
        _tries(delete)
        _tries(lambda i: drive.mkdir(f"r/d/m{i}"))
        _tries(lambda i: drive.write_bytes(f"r/d/w{i % 10}", b"w"))
        _tries(lambda i: drive.rename("r/d/mine.txt", "r/d/mine.txt"))
        _tries(lambda i: drive.rename("r/d/secret.txt", f"taken{i}"))
    assert sorted(os.listdir(outside)) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "secret"
    assert not any((drive.root / f"taken{i}").exists()
                   and (drive.root / f"taken{i}").read_text() == "secret" for i in range(TRIES))


def test_the_usage_walk_never_counts_outside(drive: Drive, race: Race, outside: Path) -> None:
    (outside / "big.bin").write_bytes(b"x" * 100_000)
    sizes: set[int] = set()
    with race:
        _tries(lambda _: sizes.add(drive.usage_bytes()))
    assert max(sizes) < 100_000
