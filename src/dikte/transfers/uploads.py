"""Chunked, resumable uploads: a large file arrives in pieces, survives dropped connections, and is
placed atomically in the drive or in a runtime's /content once every byte is there.

Parts are private to the control plane, never in a drive::

    <data_dir>/uploads/<person_id>/<upload_id>/
        meta.json   target, notebook, path, size, overwrite
        part        the bytes received
        offset      how many bytes of ``part`` are complete chunks

A chunk is written to ``part`` first and ``offset`` is recorded after it, so a chunk cut off
mid-way (a dropped connection, a server that died) never counts: ``part`` is cut back to the
recorded offset right away, or before the next chunk at the latest. ``part`` is fsynced when the
last byte arrives. Uploads untouched for a day are removed when the server starts.

Unfinished uploads take room on the server's disk, so they count against the person's drive quota:
an upload holds its declared size from its start until it is finished or cancelled (whatever its
target), a start that would not fit beside the drive's files and the other uploads is refused, and
so is a chunk once the drive has filled up meanwhile. A person may have at most
:data:`MAX_IN_FLIGHT` uploads unfinished at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from dikte.bridge.runtime_files import RuntimeFiles, notebook_open
from dikte.config import format_size
from dikte.control.manager import SessionManager
from dikte.drive import Drive, notebooks
from dikte.drive.atomic import in_thread, is_disk_full
from dikte.drive.entry import NOTEBOOK_SUFFIX, Entry
from dikte.drive.paths import clean_parts
from dikte.errors import (
    Conflict,
    InsufficientStorage,
    InvalidNotebook,
    NotFound,
    PayloadTooLarge,
    QuotaExceeded,
)

UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{22}")
CHUNK_SIZE = 8 * 2**20
STALE_SECONDS = 24 * 3600.0
_BATCH = 1 << 20
MAX_IN_FLIGHT = 8
"""Unfinished uploads one person may have at once."""


@dataclass(frozen=True)
class UploadPlan:
    target: Literal["drive", "runtime"]
    notebook: str | None
    path: str
    size: int
    overwrite: bool = True


class WrongOffset(Conflict):
    """A chunk that does not start where the upload stands; ``offset`` is where it does."""

    def __init__(self, offset: int, sent: int) -> None:
        super().__init__(
            f"This upload has received {offset} bytes, so the next chunk starts at offset "
            f"{offset}, not {sent}. Send the chunk that starts at offset {offset}.",
            code="wrong_offset")
        self.offset = offset


def _no_such(upload_id: str) -> NotFound:
    return NotFound(f"There is no upload {upload_id!r} (finished, cancelled, or expired after a "
                    "day). Start a new one.", code="no_such_upload")


def _past_end(size: int, offset: int, sent: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"This chunk would pass the end of the upload: it declared {size} bytes, {offset} are "
        f"here, and at least {sent} more were sent.", code="past_end")


def _too_many(limit: int) -> QuotaExceeded:
    return QuotaExceeded(
        f"You have {limit} unfinished uploads, the most one person may have at once. Finish or "
        "cancel one of them (DELETE /api/uploads/{upload_id}) before starting another; uploads "
        "left untouched for a day are removed.", code="too_many_uploads")


def _no_room(size: int, used: int, held: int, limit: int) -> InsufficientStorage:
    return InsufficientStorage(
        f"Your drive is full: {format_size(used)} of {format_size(limit)} used, and your "
        f"unfinished uploads hold {format_size(held)} more, so this upload of "
        f"{format_size(size)} cannot go on. Delete some files, or finish or cancel other uploads.",
        code="drive_full")


def _pwrite_all(fd: int, data: bytes, at: int) -> int:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, at)
        view, at = view[n:], at + n
    return len(data)


def _open_part(path: Path) -> BinaryIO:
    return open(path, "rb")


async def _file_chunks(path: Path, size: int = 4 << 20) -> AsyncIterator[bytes]:
    f = await in_thread(_open_part, path)
    try:
        while chunk := await in_thread(f.read, size):
            yield chunk
    finally:
        f.close()


class Uploads:
    """Every person's unfinished uploads under ``base`` (``<data_dir>/uploads``)."""

    def __init__(self, base: Path, *, max_bytes: int, chunk_size: int = CHUNK_SIZE,
                 max_in_flight: int = MAX_IN_FLIGHT) -> None:
        self.base = base
        self.max_bytes = max_bytes
        self.chunk_size = chunk_size
        self.max_in_flight = max_in_flight
        self._locks: dict[Path, asyncio.Lock] = {}

    # ---- where things are ---------------------------------------------------------------------

    def _dir(self, person_id: int, upload_id: str) -> Path:
        if not UPLOAD_ID.fullmatch(upload_id):
            raise _no_such(upload_id)
        d = self.base / str(person_id) / upload_id
        if not (d / "meta.json").is_file():
            raise _no_such(upload_id)
        return d

    def _plan(self, d: Path) -> UploadPlan:
        return UploadPlan(**json.loads((d / "meta.json").read_text()))

    def _offset(self, d: Path) -> int:
        try:
            recorded = int((d / "offset").read_text())
            return min(recorded, (d / "part").stat().st_size)
        except (OSError, ValueError):
            return 0

    def _record(self, d: Path, offset: int) -> None:
        tmp = d / "offset.tmp"
        tmp.write_text(str(offset))
        os.replace(tmp, d / "offset")

    def _in_flight(self, person_id: int) -> list[Path]:
        """The person's unfinished uploads; those untouched for a day are removed on the way, so
        an abandoned upload stops holding room without waiting for the server to restart."""
        mine = self.base / str(person_id)
        if not mine.is_dir():
            return []
        now = time.time()
        found = []
        for d in mine.iterdir():
            if not UPLOAD_ID.fullmatch(d.name):
                continue
            lock = self._locks.get(d)
            if _untouched_for(d, now) > STALE_SECONDS and (lock is None or not lock.locked()):
                self._remove(d)
                continue
            found.append(d)
        return found

    def held_bytes(self, person_id: int, *, besides: str | None = None) -> int:
        """The bytes the person's unfinished uploads hold (their declared sizes), but for the
        upload ``besides``: they count as used in the drive's quota."""
        held = 0
        for d in self._in_flight(person_id):
            if d.name == besides:
                continue
            try:
                held += int(json.loads((d / "meta.json").read_text())["size"])
            except (OSError, ValueError, KeyError, TypeError):
                continue  # being made or removed
        return held

    @staticmethod
    def _check_room(drive: Drive, size: int, held: int) -> None:
        """Refuse an upload of ``size`` bytes that does not fit beside the drive's files and the
        ``held`` bytes of the person's other unfinished uploads."""
        limit = drive.quota_bytes
        if limit is None:
            return
        used = drive.usage_bytes()
        if used + held + size > limit:
            raise _no_room(size, used, held, limit)

    def _remove(self, d: Path) -> None:
        shutil.rmtree(d, ignore_errors=True)
        self._locks.pop(d, None)

    # ---- the life of an upload ----------------------------------------------------------------

    def create(self, sessions: SessionManager, person_id: int, plan: UploadPlan) -> str:
        """Check the target, the quota and the number of uploads now (so a long upload is not
        refused at the end), then make room for the parts."""
        if plan.size > self.max_bytes:
            raise PayloadTooLarge(
                f"This file is {format_size(plan.size)}; one upload may carry at most "
                f"{format_size(self.max_bytes)} (upload_max_bytes). Split it, or ask your "
                "administrator to raise the limit.")
        clean_parts(plan.path)  # a bad path is refused before anything is made
        if plan.target == "runtime":
            RuntimeFiles.of(sessions, person_id, plan.notebook or "").check_file(plan.path)
        else:
            sessions.drive_for(person_id).check(plan.path)
            if sessions.loaded(person_id, plan.path) is not None:
                raise notebook_open()
        if len(self._in_flight(person_id)) >= self.max_in_flight:
            raise _too_many(self.max_in_flight)
        self._check_room(sessions.drive_for(person_id), plan.size, self.held_bytes(person_id))
        upload_id = secrets.token_urlsafe(16)
        d = self.base / str(person_id) / upload_id
        d.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        d.mkdir(mode=0o700)
        (d / "meta.json").write_text(json.dumps(asdict(plan)))
        os.close(os.open(d / "part", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
        self._record(d, 0)
        return upload_id

    def status(self, person_id: int, upload_id: str) -> tuple[int, UploadPlan]:
        d = self._dir(person_id, upload_id)
        return self._offset(d), self._plan(d)

    async def append(self, sessions: SessionManager, person_id: int, upload_id: str,
                     offset: int, chunks: AsyncIterator[bytes],
                     declared: int | None) -> tuple[int, int]:
        """Append the chunk that starts at ``offset``; return (new offset, size)."""
        d = self._dir(person_id, upload_id)
        async with self._locks.setdefault(d, asyncio.Lock()):
            plan = self._plan(d)
            start = self._offset(d)
            if offset != start:
                raise WrongOffset(start, offset)
            if declared is not None and start + declared > plan.size:
                raise _past_end(plan.size, start, declared)
            others = await in_thread(lambda: self.held_bytes(person_id, besides=upload_id))
            await in_thread(self._check_room, sessions.drive_for(person_id), plan.size, others)
            fd = os.open(d / "part", os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.ftruncate(fd, start)
                at, buf = start, bytearray()
                async for piece in chunks:
                    if at + len(buf) + len(piece) > plan.size:
                        raise _past_end(plan.size, start, at + len(buf) + len(piece) - start)
                    buf += piece
                    if len(buf) >= _BATCH:
                        at += await in_thread(_pwrite_all, fd, bytes(buf), at)
                        buf.clear()
                if buf:
                    at += await in_thread(_pwrite_all, fd, bytes(buf), at)
                if at == plan.size:
                    await in_thread(os.fsync, fd)
                self._record(d, at)
            except BaseException as exc:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
                if isinstance(exc, OSError) and is_disk_full(exc):
                    raise InsufficientStorage("The server's disk is full, so this chunk was not "
                                              "kept. Try again later.", code="disk_full") from None
                raise
            finally:
                os.close(fd)
        return at, plan.size

    async def complete(self, sessions: SessionManager, person_id: int, upload_id: str) -> Entry:
        """Validate (notebooks) and place the file atomically; the upload is then gone."""
        d = self._dir(person_id, upload_id)
        async with self._locks.setdefault(d, asyncio.Lock()):
            plan = self._plan(d)
            offset = self._offset(d)
            if offset != plan.size:
                raise Conflict(f"This upload has {offset} of its {plan.size} bytes; send the "
                               "rest before completing it.", code="incomplete")
            part = d / "part"
            if plan.path.endswith(NOTEBOOK_SUFFIX):
                try:
                    await in_thread(lambda: notebooks.parse(part.read_bytes(), plan.path))
                except InvalidNotebook:
                    self._remove(d)  # it can never complete
                    raise
            chunks = _file_chunks(part)
            others = await in_thread(lambda: self.held_bytes(person_id, besides=upload_id))
            if plan.target == "runtime":
                files = RuntimeFiles.of(sessions, person_id, plan.notebook or "")
                entry = await files.write_stream(plan.path, chunks, max_bytes=self.max_bytes,
                                                 overwrite=plan.overwrite, reserved=others)
            else:
                if sessions.loaded(person_id, plan.path) is not None:
                    raise notebook_open()
                entry = await sessions.drive_for(person_id).write_stream(
                    plan.path, chunks, max_bytes=self.max_bytes, overwrite=plan.overwrite,
                    reserved=others)
            self._remove(d)
        return entry

    async def cancel(self, person_id: int, upload_id: str) -> None:
        d = self._dir(person_id, upload_id)
        async with self._locks.setdefault(d, asyncio.Lock()):
            await asyncio.to_thread(self._remove, d)

    def remove_stale(self, max_age: float = STALE_SECONDS, now: float | None = None) -> int:
        """Remove uploads nothing was written to for ``max_age`` seconds; return how many."""
        now = time.time() if now is None else now
        removed = 0
        people = [p for p in self.base.iterdir() if p.is_dir()] if self.base.is_dir() else []
        for person in people:
            for d in person.iterdir():
                if _untouched_for(d, now) > max_age:
                    self._remove(d)
                    removed += 1
        return removed


def _untouched_for(d: Path, now: float) -> float:
    """Seconds since anything in the upload folder ``d`` was written (0 if it cannot be told)."""
    try:
        times = [e.stat(follow_symlinks=False).st_mtime for e in os.scandir(d)]
        return now - max([d.lstat().st_mtime, *times])
    except OSError:
        return 0.0

