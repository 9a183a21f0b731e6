"""Runtime files: the notebook page's Files panel, a browser of the runtime's /content.

``path`` names the notebook whose runtime is meant; file and folder names are relative to
/content, and those under ``drive/MyDrive`` are the person's drive.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import BinaryIO
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from dikte.api.deps import PersonDep, ServicesDep
from dikte.api.errors import COMMON_ERRORS, error_responses
from dikte.config import format_size
from dikte.errors import PayloadTooLarge
from dikte.schemas.rest import DriveEntry, DriveListing, RuntimeDirBody, RuntimeFileBody
from dikte.sessions.runtime_files import RuntimeFiles

router = APIRouter(prefix="/api/runtime/files", tags=["runtime files"],
                   responses=error_responses(*COMMON_ERRORS, 413, 503))

_READ_SIZE = 1 << 20
RAW_BODY = {"requestBody": {"required": True, "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}


@router.get("", response_model=DriveListing)
async def list_dir(person: PersonDep, svc: ServicesDep,
                   path: str = Query(description="The notebook whose runtime is meant."),
                   folder: str = Query("", alias="dir",
                                       description="Folder relative to /content.")) -> DriveListing:
    """A folder of the runtime's /content (``drive/MyDrive/...`` is your drive)."""
    files = RuntimeFiles.of(svc.sessions, person.id, path)
    entries = await asyncio.to_thread(files.list, folder)
    return DriveListing(path=folder, entries=[DriveEntry.model_validate(e.to_dict())
                                           for e in entries])


@router.get("/download", response_class=StreamingResponse,
            responses={200: {"content": {"application/octet-stream": {}}}})
async def download(person: PersonDep, svc: ServicesDep,
                   path: str = Query(description="The notebook whose runtime is meant."),
                   file: str = Query(description="File relative to /content.")) -> StreamingResponse:
    files = RuntimeFiles.of(svc.sessions, person.id, path)
    reader = await asyncio.to_thread(files.open_reader, file)
    name = file.rstrip("/").rsplit("/", 1)[-1]
    return StreamingResponse(_read(reader), media_type="application/octet-stream",
                             headers={"Content-Disposition": _attachment(name)})


def _read(reader: BinaryIO) -> Iterator[bytes]:
    """Starlette iterates a sync iterator in a thread pool."""
    with reader:
        while chunk := reader.read(_READ_SIZE):
            yield chunk


def _attachment(name: str) -> str:
    return f"attachment; filename*=utf-8''{quote(name)}"


@router.put("/upload", response_model=DriveEntry, status_code=201, openapi_extra=RAW_BODY)
async def upload(request: Request, person: PersonDep, svc: ServicesDep,
                 path: str = Query(description="The notebook whose runtime is meant."),
                 file: str = Query(description="Destination relative to /content.")) -> DriveEntry:
    """Upload the raw body as a file (streamed to disk; atomic; owned by the runtime's user)."""
    limit = svc.settings.upload_max_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(
            f"This file is {format_size(int(declared))}; one upload may carry at most "
            f"{format_size(limit)}. Use a chunked upload (POST /api/uploads) or ask your "
            "administrator to raise upload_max_bytes.")
    files = RuntimeFiles.of(svc.sessions, person.id, path)

    async def body() -> AsyncIterator[bytes]:
        async for chunk in request.stream():
            if chunk:
                yield chunk

    entry = await files.write_stream(file, body(), max_bytes=limit)
    return DriveEntry.model_validate(entry.to_dict())


@router.post("/mkdir", response_model=DriveEntry, status_code=201)
async def make_dir(body: RuntimeDirBody, person: PersonDep, svc: ServicesDep) -> DriveEntry:
    """Create a folder (and its parents) in /content."""
    files = RuntimeFiles.of(svc.sessions, person.id, body.path)
    entry = await asyncio.to_thread(files.mkdir, body.dir)
    return DriveEntry.model_validate(entry.to_dict())


@router.post("/delete", status_code=204)
async def delete(body: RuntimeFileBody, person: PersonDep, svc: ServicesDep) -> None:
    """Delete a file or folder of /content (a link itself, never what it points to)."""
    files = RuntimeFiles.of(svc.sessions, person.id, body.path)
    await files.delete(body.file)
