"""Drive operations on files and folders: listing, writing, moving, deleting, quota, ownership."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dikte.drive import NOTEBOOKS_DIR, Drive, Entry
from dikte.drive.tree import remove_interrupted_saves
from dikte.errors import BadRequest, Conflict, InsufficientStorage, NotFound


def test_new_drive_root_is_private_and_holds_notebooks(drives: Path) -> None:
    drive = Drive(drives / "7")
    assert stat.S_IMODE(os.stat(drive.root).st_mode) == 0o700
    assert (drive.root / NOTEBOOKS_DIR).is_dir()
    assert [e.name for e in drive.list()] == [NOTEBOOKS_DIR]


def test_list_puts_folders_first_then_names(drive: Drive) -> None:
    drive.write_bytes("b.txt", b"bb")
    drive.write_bytes("a.txt", b"a")
    drive.mkdir("zdir")
    entries = drive.list()
    assert [(e.name, e.kind) for e in entries] == [
        (NOTEBOOKS_DIR, "dir"),
        ("zdir", "dir"),
        ("a.txt", "file"),
        ("b.txt", "file"),
    ]
    assert entries[3].size == 2 and entries[3].path == "b.txt"


def test_stat_describes_entry_and_to_dict(drive: Drive) -> None:
    entry = drive.write_bytes("Notebooks/sub/x.bin", b"12345")
    assert entry == drive.stat("Notebooks/sub/x.bin")
    assert entry.to_dict() == {
        "name": "x.bin",
        "path": "Notebooks/sub/x.bin",
        "kind": "file",
        "size": 5,
        "modified": os.stat(drive.root / "Notebooks/sub/x.bin").st_mtime,
    }
    assert drive.stat("") == Entry("", "", "dir", 0, os.stat(drive.root).st_mtime)


@pytest.mark.parametrize(("call", "error"), [
    (lambda d: d.stat("nope"), NotFound),
    (lambda d: d.list("nope"), NotFound),
    (lambda d: d.list("f.txt"), BadRequest),
    (lambda d: d.open_reader("nope"), NotFound),
    (lambda d: d.open_reader("Notebooks"), BadRequest),
    (lambda d: d.open_reader("f.txt/x"), NotFound),
    (lambda d: d.read_bytes(""), BadRequest),
    (lambda d: d.mkdir("f.txt/sub"), Conflict),
    (lambda d: d.write_bytes("f.txt/sub.txt", b""), Conflict),
    (lambda d: d.write_bytes("Notebooks", b""), Conflict),
    (lambda d: d.write_bytes("f.txt", b"", overwrite=False), Conflict),
    (lambda d: d.write_bytes("", b""), BadRequest),
    (lambda d: d.delete(""), BadRequest),
    (lambda d: d.delete("nope"), NotFound),
    (lambda d: d.rename("nope", "x"), NotFound),
    (lambda d: d.rename("f.txt", "Notebooks"), Conflict),
    (lambda d: d.rename("Notebooks", "Notebooks/inner"), BadRequest),
    (lambda d: d.rename("", "x"), BadRequest),
])
def test_refusals(drive: Drive, call: object, error: type[Exception]) -> None:
    drive.write_bytes("f.txt", b"keep")
    with pytest.raises(error):
        call(drive)  # type: ignore[operator]
    assert drive.read_bytes("f.txt") == b"keep"


def test_mkdir_creates_parents_and_is_idempotent(drive: Drive) -> None:
    assert drive.mkdir("a/b/c").kind == "dir"
    assert drive.mkdir("a/b/c").path == "a/b/c"
    assert (drive.root / "a" / "b" / "c").is_dir()


def test_write_replaces_and_reads_back(drive: Drive) -> None:
    drive.write_bytes("x.txt", b"one")
    assert drive.write_bytes("x.txt", b"second").size == 6
    assert drive.read_bytes("x.txt") == b"second"
    assert sorted(p.name for p in drive.root.iterdir()) == ["Notebooks", "x.txt"]


def test_rename_moves_and_creates_parents(drive: Drive) -> None:
    drive.write_bytes("a.txt", b"A")
    moved = drive.rename("a.txt", "deep/er/b.txt")
    assert moved.path == "deep/er/b.txt"
    assert drive.read_bytes("deep/er/b.txt") == b"A"
    assert not (drive.root / "a.txt").exists()
    drive.rename("deep", "Notebooks/deep")
    assert drive.read_bytes("Notebooks/deep/er/b.txt") == b"A"


def test_delete_file_and_folder(drive: Drive) -> None:
    drive.write_bytes("d/e/f.txt", b"x")
    drive.write_bytes("g.txt", b"x")
    drive.delete("g.txt")
    drive.delete("d")
    assert [e.name for e in drive.list()] == [NOTEBOOKS_DIR]
    drive.delete(NOTEBOOKS_DIR)  # allowed: only the root is kept
    assert drive.list() == []


def test_delete_symlink_removes_link_not_target(drive: Drive, outside: Path) -> None:
    os.symlink(outside, drive.root / "link")
    drive.mkdir("d")
    os.symlink(outside, drive.root / "d" / "inner-link")
    drive.delete("link")
    drive.delete("d")
    assert not os.path.lexists(drive.root / "link")
    assert (outside / "secret.txt").read_text() == "secret"


def test_outside_symlink_is_listed_as_itself_and_can_be_moved(
    drive: Drive, outside: Path
) -> None:
    os.symlink(outside / "secret.txt", drive.root / "s")
    entry = drive.stat("s")
    assert entry.kind == "file" and entry.size == len(str(outside / "secret.txt"))
    drive.rename("s", "Notebooks/s")
    assert os.readlink(drive.root / "Notebooks" / "s") == str(outside / "secret.txt")
    with pytest.raises(BadRequest):
        drive.open_reader("Notebooks/s")


def test_write_over_final_symlink_replaces_link_not_target(
    drive: Drive, outside: Path
) -> None:
    os.symlink(outside / "secret.txt", drive.root / "s.txt")
    drive.write_bytes("s.txt", b"mine")
    assert (outside / "secret.txt").read_text() == "secret"
    assert not (drive.root / "s.txt").is_symlink()
    assert drive.read_bytes("s.txt") == b"mine"


def test_write_through_symlinked_folder_outside_is_refused(
    drive: Drive, outside: Path
) -> None:
    os.symlink(outside, drive.root / "out")
    with pytest.raises(BadRequest):
        drive.write_bytes("out/new.txt", b"x")
    with pytest.raises(BadRequest):
        drive.rename("out/secret.txt", "stolen.txt")
    with pytest.raises(BadRequest):
        drive.delete("out/secret.txt")
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_fifo_is_not_read(drive: Drive) -> None:
    os.mkfifo(drive.root / "pipe")
    with pytest.raises(BadRequest, match="not a regular file"):
        drive.read_bytes("pipe")


def test_usage_counts_files_not_link_targets(drive: Drive, outside: Path) -> None:
    drive.write_bytes("a.bin", b"x" * 100)
    drive.write_bytes("Notebooks/b.bin", b"x" * 50)
    os.symlink(outside, drive.root / "out")
    assert drive.usage_bytes() == 150


def test_quota_refuses_write_and_counts_replaced_file(drives: Path) -> None:
    drive = Drive(drives / "q", quota_bytes=100)
    drive.write_bytes("a.bin", b"x" * 60)
    drive.write_bytes("a.bin", b"y" * 90)  # replacing: 90, not 150
    with pytest.raises(InsufficientStorage) as info:
        drive.write_bytes("b.bin", b"z" * 20)
    assert info.value.message.startswith("Your drive is full: 90 B of 100 B used")
    assert not (drive.root / "b.bin").exists()
    assert drive.read_bytes("a.bin") == b"y" * 90


def test_owner_uid_owns_everything_created(drives: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("chown needs root")
    uid = 54321
    drive = Drive(drives / "owned" / "5", owner_uid=uid)
    drive.write_bytes("a/b/c.txt", b"x")
    drive.mkdir("m/n")
    drive.new_notebook("Notebooks/n.ipynb")
    drive.rename("a/b/c.txt", "moved/here/c.txt")
    for path in [drive.root, *drive.root.rglob("*")]:
        info = os.lstat(path)
        assert (info.st_uid, info.st_gid) == (uid, uid), path


def test_delete_walks_deep_folders_and_refuses_what_is_too_deep(drive: Drive) -> None:
    os.makedirs(drive.root / "deep" / ("d/" * 200))
    (drive.root / "deep" / ("d/" * 200) / "f.txt").write_text("x")
    drive.delete("deep")
    assert not (drive.root / "deep").exists()
    # a runtime can make folders deeper than any path may name; from here they are refused
    here = os.open(drive.root, os.O_RDONLY)
    try:
        for _ in range(300):
            os.mkdir("d", dir_fd=here)
            there = os.open("d", os.O_RDONLY, dir_fd=here)
            os.close(here)
            here = there
    finally:
        os.close(here)
    with pytest.raises(Conflict, match="more than 256 deep") as info:
        drive.delete("d")
    assert info.value.code == "too_deep"


def test_only_the_servers_own_temp_files_are_left_out_of_the_usage(drives: Path) -> None:
    """A save's temp file is the server's until it is put in place (issue 11, item 5): one the
    server owns is not counted and is removed by the start-up sweep; a file a runtime names like
    one (owned by the drive's owner) is counted and kept, so it cannot hide data from the quota."""
    drive = Drive(drives / "5", owner_uid=4242)
    (drive.root / "Notebooks" / ".~dikte-000000000001.tmp").write_bytes(b"x" * 100)
    theirs = drive.root / ".~dikte-000000000002.tmp"
    theirs.write_bytes(b"y" * 10)
    os.chown(theirs, 4242, 4242)
    drive.write_bytes("kept.txt", b"z" * 5)
    assert drive.usage_bytes() == 15
    assert (drive.root / "kept.txt").stat().st_uid == 4242
    assert remove_interrupted_saves(drives) == 1
    assert theirs.exists()
    assert sorted(os.listdir(drive.root / "Notebooks")) == []


def test_a_file_put_in_place_but_not_yet_given_to_the_owner_is_given_at_start_up(
        drives: Path) -> None:
    """A save renames its temp file into place, then gives it to the drive's owner: a server
    killed in between leaves the file the server's, and the start-up sweep gives it to them
    (without it a runtime could read its own notebook but never write it)."""
    drive = Drive(drives / "6", owner_uid=4343)
    drive.write_bytes("data.csv", b"a,b\n")
    placed = drive.root / "data.csv"
    os.chown(placed, os.geteuid(), os.geteuid())  # as the killed save left it
    assert remove_interrupted_saves(drives) == 0
    assert placed.stat().st_uid == 4343 and placed.read_bytes() == b"a,b\n"
