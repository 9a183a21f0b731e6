"""Uploads are all or nothing: a broken, oversized or disk-filling upload leaves the old file."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from dikte.drive import Drive
from dikte.errors import Conflict, InsufficientStorage, PayloadTooLarge

Chunks = Callable[..., AsyncIterator[bytes]]


def names(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


async def test_stream_writes_file(drive: Drive, chunks: Chunks) -> None:
    entry = await drive.write_stream("up/a.bin", chunks(b"ab", b"cd"), max_bytes=10)
    assert (entry.path, entry.size) == ("up/a.bin", 4)
    assert drive.read_bytes("up/a.bin") == b"abcd"
    assert names(drive.root / "up") == ["a.bin"]


async def test_failing_iterator_leaves_old_file_and_no_temp(drive: Drive) -> None:
    drive.write_bytes("a.bin", b"old")

    async def broken() -> AsyncIterator[bytes]:
        yield b"new data"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await drive.write_stream("a.bin", broken(), max_bytes=100)
    assert drive.read_bytes("a.bin") == b"old"
    assert names(drive.root) == ["Notebooks", "a.bin"]


async def test_oversized_upload_refused_naming_limit(drive: Drive, chunks: Chunks) -> None:
    drive.write_bytes("a.bin", b"old")
    with pytest.raises(PayloadTooLarge) as info:
        await drive.write_stream("a.bin", chunks(b"x" * 1024, b"x" * 1024), max_bytes=1500)
    assert "1.5 KiB limit" in info.value.message
    assert "Split it" in info.value.message
    assert drive.read_bytes("a.bin") == b"old"
    assert names(drive.root) == ["Notebooks", "a.bin"]


async def test_stream_past_quota_refused(drives: Path, chunks: Chunks) -> None:
    drive = Drive(drives / "q", quota_bytes=2048)
    drive.write_bytes("a.bin", b"x" * 1024)
    with pytest.raises(InsufficientStorage, match="1 KiB of 2 KiB used"):
        await drive.write_stream("b.bin", chunks(b"y" * 1000, b"y" * 1000), max_bytes=10**6)
    assert names(drive.root) == ["Notebooks", "a.bin"]


async def test_stream_without_overwrite_refuses_before_reading(
    drive: Drive, chunks: Chunks
) -> None:
    drive.write_bytes("a.bin", b"old")
    with pytest.raises(Conflict, match="already exists"):
        await drive.write_stream("a.bin", chunks(b"new"), max_bytes=10, overwrite=False)
    assert drive.read_bytes("a.bin") == b"old"
    assert names(drive.root) == ["Notebooks", "a.bin"]


def test_write_without_overwrite_creates(drive: Drive) -> None:
    assert drive.write_bytes("n.bin", b"1", overwrite=False).size == 1


async def test_disk_full_stream_is_insufficient_storage(tiny_fs: Path, chunks: Chunks) -> None:
    drive = Drive(tiny_fs / "d")
    drive.write_bytes("a.bin", b"old")
    big = [b"z" * 65536] * 40  # 2.5 MiB into a 1 MiB filesystem
    with pytest.raises(InsufficientStorage) as info:
        await drive.write_stream("a.bin", chunks(*big), max_bytes=10**9)
    assert info.value.code == "disk_full"
    assert "no space left" in info.value.message
    assert drive.read_bytes("a.bin") == b"old"
    assert names(drive.root) == ["Notebooks", "a.bin"]


def test_disk_full_write_is_insufficient_storage(tiny_fs: Path) -> None:
    drive = Drive(tiny_fs / "d")
    drive.write_bytes("a.bin", b"old")
    with pytest.raises(InsufficientStorage, match="no space left"):
        drive.write_bytes("a.bin", b"z" * (2 * 2**20))
    assert drive.read_bytes("a.bin") == b"old"
    assert names(drive.root) == ["Notebooks", "a.bin"]
