"""Serving a file that is already open: the download routes stream the very descriptor the drive's
walk opened (never a path, which a runtime could swap before it is opened again).

What Starlette's ``FileResponse`` gave is kept: ``Content-Length``, ``Last-Modified``, ``ETag``,
``Content-Disposition``, and a single byte range (``Range: bytes=a-b``, ``If-Range``) answered
with 206, or 416 when it lies past the end. Several ranges at once are answered with the whole file
(200), which HTTP allows.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from email.utils import formatdate
from typing import BinaryIO

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from dikte.api.notebook_io import content_disposition

CHUNK = 1 << 20


def _single_range(header: str, size: int) -> tuple[int, int] | None:
    """``(start, end)`` (end exclusive) of a one-range ``bytes=`` header; None to send it all.
    Raises ValueError for a range that lies wholly past the end."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not (first.isdigit() or last.isdigit()):
        return None
    if not first:  # the last N bytes
        n = int(last)
        if n == 0:
            raise ValueError("empty suffix range")
        return max(size - n, 0), size
    start = int(first)
    end = min(int(last) + 1, size) if last.isdigit() else size
    if last.isdigit() and int(last) < start:
        return None
    if start >= size:
        raise ValueError("range past the end")
    return start, end


def _pread_chunks(f: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    """Starlette iterates a sync iterator in a thread pool."""
    try:
        fd = f.fileno()
        while start < end:
            chunk = os.pread(fd, min(CHUNK, end - start), start)
            if not chunk:  # cut short while it was sent: what is sent is what was there
                return
            start += len(chunk)
            yield chunk
    finally:
        f.close()


def _read_chunks(f: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    """The same for a file without a descriptor (one on another machine): seek, then read."""
    try:
        f.seek(start)
        while start < end:
            chunk = f.read(min(CHUNK, end - start))
            if not chunk:
                return
            start += len(chunk)
            yield chunk
    finally:
        f.close()


def open_file_response(request: Request, f: BinaryIO, filename: str) -> Response:
    """A download of the open file ``f`` (closed once sent, or if sending fails): a local
    file, or one on another machine that tells its ``size`` and ``mtime`` itself."""
    try:
        info = os.fstat(f.fileno())
        size, mtime, ino = info.st_size, info.st_mtime, info.st_ino
        chunks = _pread_chunks
    except (io.UnsupportedOperation, AttributeError):
        size, mtime, ino = int(f.size), float(f.mtime), 0  # type: ignore[attr-defined]
        chunks = _read_chunks
    modified = formatdate(mtime, usegmt=True)
    etag = '"' + hashlib.md5(f"{mtime}-{size}-{ino}".encode(),
                             usedforsecurity=False).hexdigest() + '"'
    headers = {"Content-Disposition": content_disposition(filename), "Accept-Ranges": "bytes",
               "Last-Modified": modified, "ETag": etag}
    start, end, status = 0, size, 200
    wanted = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if wanted is not None and (if_range is None or if_range in (etag, modified)):
        try:
            found = _single_range(wanted, size)
        except ValueError:
            f.close()
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
        if found is not None:
            start, end = found
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    return StreamingResponse(chunks(f, start, end), status_code=status, headers=headers,
                             media_type="application/octet-stream",
                             background=BackgroundTask(f.close))
