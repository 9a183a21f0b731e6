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
        drive.resolve(rel)
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
def test_ordinary_paths_resolve_under_root(drive: Drive, rel: str, expected: str) -> None:
    assert drive.resolve(rel) == (drive.root / expected if expected else drive.root)


def test_symlink_to_outside_folder_is_refused(drive: Drive, outside: Path) -> None:
    os.symlink(outside, drive.root / "escape")
    for rel in ("escape", "escape/secret.txt", "escape/new.txt"):
        with pytest.raises(BadRequest, match="outside your drive"):
            drive.resolve(rel)


def test_symlink_to_sibling_drive_with_shared_prefix_is_refused(
    drive: Drive, sibling: Path
) -> None:
    assert str(sibling).startswith(str(drive.root))  # "/…/drives/10" vs "/…/drives/1"
    os.symlink(sibling, drive.root / "next")
    with pytest.raises(BadRequest, match="outside your drive"):
        drive.resolve("next/theirs.txt")
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
        drive.resolve("a")


def test_symlink_within_the_drive_is_followed(drive: Drive) -> None:
    drive.write_bytes("data/real.txt", b"hello")
    os.symlink(drive.root / "data", drive.root / "alias")
    assert drive.resolve("alias/real.txt") == drive.root / "data" / "real.txt"
    assert drive.read_bytes("alias/real.txt") == b"hello"
