"""The Files panel's view of a runtime on another machine: its ``/content`` through its node.

The node host serves each operation with the node's local backend's own ``content(handle)``
(a :class:`~dikte.drive.Drive`: every path walked beneath the instance space, files written as
the runtime's user), so path safety is the local backend's, unchanged. The control plane holds a
:class:`RemoteContent`, which offers the operations the Files panel uses with the same
signatures, each one Ray call (reads and uploads in chunks of :data:`CHUNK`). A refusal on the
node comes back as the same error, with the same code, status and sentence.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable
from typing import Any

import ray

from dikte.drive.entry import Entry
from dikte.errors import DikteError

CHUNK = 4 * 2**20
TIMEOUT = 120.0

Outcome = tuple[str, Any]
"""``("ok", value)`` or ``("error", (message, code, status))``: what a node's file call returns."""


def outcome(fn: Callable[[], Any]) -> Outcome:
    try:
        return "ok", fn()
    except DikteError as exc:
        return "error", (exc.message, exc.code, exc.status)


def unwrap(result: Outcome) -> Any:
    kind, value = result
    if kind == "error":
        message, code, status = value
        raise DikteError(message, code=code, status=status)
    return value


class NodeFiles:
    """The node's side: one runtime's /content, operation by operation."""

    def __init__(self, content: Callable[[str], Any]) -> None:
        self._content = content
        """runtime id -> its /content Drive (raises NotFound when the runtime is gone)."""
        self._uploads: dict[str, tuple[asyncio.Queue[bytes | None], asyncio.Task[Entry]]] = {}

    def call(self, runtime_id: str, op: str, *args: Any) -> Outcome:
        if op not in ("check", "list", "mkdir", "delete", "stat"):
            return "error", ("Unknown file operation.", "bad_request", 400)
        return outcome(lambda: getattr(self._content(runtime_id), op)(*args))

    def read(self, runtime_id: str, rel: str, offset: int, size: int) -> Outcome:
        def chunk() -> bytes:
            with self._content(runtime_id).open_reader(rel) as f:
                f.seek(offset)
                data: bytes = f.read(min(size, CHUNK))
                return data
        return outcome(chunk)

    async def write_begin(self, runtime_id: str, rel: str, max_bytes: int,
                          overwrite: bool) -> Outcome:
        try:
            drive = self._content(runtime_id)
            drive.check(rel)
        except DikteError as exc:
            return "error", (exc.message, exc.code, exc.status)
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=4)

        async def chunks() -> AsyncIterator[bytes]:
            while (data := await queue.get()) is not None:
                yield data

        task = asyncio.ensure_future(drive.write_stream(rel, chunks(), max_bytes=max_bytes,
                                                        overwrite=overwrite))
        upload = f"{runtime_id}:{id(task)}"
        self._uploads[upload] = (queue, task)
        return "ok", upload

    async def write_chunk(self, upload: str, data: bytes) -> Outcome:
        queue, task = self._uploads[upload]
        if task.done():  # refused midway (too large, disk full): say why
            return await self.write_end(upload)
        await queue.put(data)
        return "ok", None

    async def write_end(self, upload: str, abort: bool = False) -> Outcome:
        queue, task = self._uploads.pop(upload)
        if abort:
            task.cancel()
        elif not task.done():
            await queue.put(None)
        try:
            return "ok", await task
        except asyncio.CancelledError:
            return "error", ("The upload was cancelled.", "cancelled", 400)
        except DikteError as exc:
            return "error", (exc.message, exc.code, exc.status)


class _Reader(io.RawIOBase):
    def __init__(self, host: Any, runtime_id: str, rel: str) -> None:
        self._host, self._rid, self._rel, self._pos = host, runtime_id, rel, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence != 0:
            raise io.UnsupportedOperation("only absolute seeks")
        self._pos = offset
        return offset

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer: Any) -> int:
        data: bytes = unwrap(ray.get(self._host.file_read.remote(
            self._rid, self._rel, self._pos, len(buffer)), timeout=TIMEOUT))
        buffer[:len(data)] = data
        self._pos += len(data)
        return len(data)


class RemoteFile(io.BufferedReader):
    """A file of a runtime on another machine, read in chunks; it has no descriptor, so it
    tells its ``size`` and ``mtime`` (as a download's headers need them)."""

    def __init__(self, raw: _Reader, entry: Entry) -> None:
        super().__init__(raw, buffer_size=CHUNK)
        self.size = entry.size
        self.mtime = entry.modified

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence != 0:
            raise io.UnsupportedOperation("only absolute seeks")
        self.raw._pos = offset  # type: ignore[attr-defined]
        return super().seek(offset, 0)


class RemoteContent:
    """A runtime's /content on another machine, with the Drive operations the Files panel uses
    (each a blocking Ray call: call them from a thread, as the panel does)."""

    def __init__(self, host: Any, runtime_id: str) -> None:
        self._host = host
        self._rid = runtime_id

    def _call(self, op: str, *args: Any) -> Any:
        return unwrap(ray.get(self._host.file_call.remote(self._rid, op, *args),
                              timeout=TIMEOUT))

    def check(self, rel: str) -> None:
        self._call("check", rel)

    def stat(self, rel: str) -> Entry:
        entry: Entry = self._call("stat", rel)
        return entry

    def list(self, rel: str = "") -> list[Entry]:
        entries: list[Entry] = self._call("list", rel)
        return entries

    def mkdir(self, rel: str) -> Entry:
        entry: Entry = self._call("mkdir", rel)
        return entry

    def delete(self, rel: str) -> None:
        self._call("delete", rel)

    def open_reader(self, rel: str) -> RemoteFile:
        entry = self.stat(rel)  # a missing file is refused now, with its sentence
        if entry.kind == "dir":
            raise DikteError(f"/content/{rel.strip('/')} is a folder; name a file in it.",
                             code="is_a_folder", status=400)
        return RemoteFile(_Reader(self._host, self._rid, rel), entry)

    async def write_stream(self, rel: str, chunks: AsyncIterator[bytes], *, max_bytes: int,
                           overwrite: bool = True, reserved: int = 0) -> Entry:
        upload = unwrap(await self._host.file_write_begin.remote(
            self._rid, rel, max_bytes - reserved, overwrite))
        pending = bytearray()
        try:
            async for data in chunks:
                pending += data
                if len(pending) >= CHUNK:
                    unwrap(await self._host.file_write_chunk.remote(upload, bytes(pending)))
                    pending.clear()
            if pending:
                unwrap(await self._host.file_write_chunk.remote(upload, bytes(pending)))
        except BaseException:
            await self._host.file_write_end.remote(upload, True)
            raise
        entry: Entry = unwrap(await self._host.file_write_end.remote(upload))
        return entry
