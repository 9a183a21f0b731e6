"""Path rules: what a person may name, and symbolic links that try to lead out of the drive."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dikte.drive import Drive
from dikte.errors import BadRequest


@pytest.mark.parametrize(
    ("rel", "reason"),
    [
        ("../x", ".."),
        ("a/../../x", ".."),
        ("Notebooks/..", ".."),
        ("/etc/passwd", "leading /"),
        ("a\x00b", "control character"),
        ("a\nb", "control character"),
        ("..\\x", "not \\"),
        ("a\\..\\..\\x", "not \\"),
        ("x" * 256, "at most 255 bytes"),
    ],
)
def test_hostile_paths_are_refused_with_a_sentence_naming_them(
    drive: Drive, rel: str, reason: str
) -> None:
    with pytest.raises(BadRequest) as info:
        drive.stat(rel)
    assert info.value.code == "bad_path"
    assert reason in info.value.message
    assert info.value.message.startswith("The path ")
    assert json.dumps(rel, ensure_ascii=False)[:40] in info.value.message


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("", ""),
        ("Notebooks/a.ipynb", "Notebooks/a.ipynb"),
        ("a//b/./c/", "a/b/c"),
        ("./a", "a"),
        ("not-yet/there.txt", "not-yet/there.txt"),
        ("..hidden", "..hidden"),
        ("a..b/c", "a..b/c"),
    ],
)
def test_ordinary_paths_name_places_under_root(drive: Drive, rel: str, expected: str) -> None:
    assert drive.mkdir(rel).path == expected
    assert (drive.root / expected).is_dir()


def test_symlink_to_outside_folder_is_refused(drive: Drive, outside: Path) -> None:
    os.symlink(outside, drive.root / "escape")
    for refused in (lambda: drive.list("escape"), lambda: drive.read_bytes("escape/secret.txt"),
                    lambda: drive.write_bytes("escape/new.txt", b"x"),
                    lambda: drive.mkdir("escape/sub"), lambda: drive.check("escape/new.txt")):
        with pytest.raises(BadRequest, match="outside your drive"):
            refused()
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_symlink_to_sibling_drive_with_shared_prefix_is_refused(
    drive: Drive, sibling: Path
) -> None:
    assert str(sibling).startswith(str(drive.root))  # "/…/drives/10" vs "/…/drives/1"
    os.symlink(sibling, drive.root / "next")
    with pytest.raises(BadRequest, match="outside your drive"):
        drive.list("next")
    with pytest.raises(BadRequest):
        drive.read_bytes("next/theirs.txt")


def test_relative_symlink_climbing_out_is_refused(drive: Drive, outside: Path) -> None:
    os.symlink("../../outside/secret.txt", drive.root / "Notebooks" / "s.txt")
    with pytest.raises(BadRequest, match="outside your drive"):
        drive.read_bytes("Notebooks/s.txt")


def test_symlink_loop_is_refused(drive: Drive) -> None:
    os.symlink("b", drive.root / "a")
    os.symlink("a", drive.root / "b")
    with pytest.raises(BadRequest, match="loop"):
        drive.read_bytes("a")


def test_symlink_within_the_drive_is_followed(drive: Drive) -> None:
    drive.write_bytes("data/real.txt", b"hello")
    os.symlink(drive.root / "data", drive.root / "alias")
    assert drive.read_bytes("alias/real.txt") == b"hello"
    assert [e.path for e in drive.list("alias")] == ["alias/real.txt"]
    assert drive.stat("alias").kind == "dir"


def test_relative_links_inside_the_drive_are_followed(drive: Drive) -> None:
    drive.write_bytes("a/b/real.txt", b"deep")
    os.symlink("../a/b", drive.root / "Notebooks" / "up-and-over")
    os.symlink("up-and-over/real.txt", drive.root / "Notebooks" / "chain")
    assert drive.read_bytes("Notebooks/up-and-over/real.txt") == b"deep"
    assert drive.read_bytes("Notebooks/chain") == b"deep"
    assert drive.stat("Notebooks/chain").size == 4
    drive.write_bytes("Notebooks/up-and-over/new.txt", b"n")
    assert (drive.root / "a" / "b" / "new.txt").read_bytes() == b"n"


@pytest.mark.parametrize(("rel", "reason"), [
    ("a/" * 5000, "at most 4096 bytes"),
    ("abcdefghijklmnop/" * 600, "at most 4096 bytes"),
    ("a/" * 300, "at most 256 folders"),
])
def test_too_long_paths_are_refused_before_anything_is_made(
    drive: Drive, rel: str, reason: str
) -> None:
    for call in (drive.mkdir, lambda r: drive.write_bytes(r + "x", b"x"), drive.list):
        with pytest.raises(BadRequest, match=reason) as info:
            call(rel)
        assert info.value.code == "bad_path"
        assert len(info.value.message) < 400
    assert sorted(p.name for p in drive.root.iterdir()) == ["Notebooks"]


def test_links_cannot_lead_deeper_than_the_limit(drive: Drive) -> None:
    os.symlink("d/" * 200, drive.root / "deep")  # fine as a path, 200 folders once followed
    os.makedirs(drive.root / ("d/" * 300))
    os.symlink("deep/" + "d/" * 100, drive.root / "deeper")
    assert [e.name for e in drive.list("deep")] == ["d"]
    with pytest.raises(BadRequest, match="more than 256 folders deep"):
        drive.list("deeper")
