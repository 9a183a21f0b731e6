"""Runtime files: the notebook page's Files panel, a browser of the runtime's /content.

``path`` names the notebook whose runtime is meant; file and folder names are relative to
/content, and those under ``drive/MyDrive`` are the person's drive.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from dikte.api.deps import PersonDep, ServicesDep
from dikte.api.downloads import open_file_response
from dikte.api.errors import COMMON_ERRORS, error_responses
from dikte.api.uploads import RAW_BODY, UploadsDep
from dikte.bridge.runtime_files import RuntimeFiles
from dikte.config import format_size
from dikte.errors import PayloadTooLarge
from dikte.schemas.rest import DriveEntry, DriveListing, RuntimeDirBody, RuntimeFileBody

router = APIRouter(prefix="/api/runtime/files", tags=["runtime files"],
                   responses=error_responses(*COMMON_ERRORS, 413, 503))



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
            responses={200: {"content": {"application/octet-stream": {}}},
                       206: {"description": "The byte range asked for (Range: bytes=a-b)."}})
async def download(request: Request, person: PersonDep, svc: ServicesDep,
                   path: str = Query(description="The notebook whose runtime is meant."),
                   file: str = Query(description="File relative to /content.")) -> Response:
    files = RuntimeFiles.of(svc.sessions, person.id, path)
    reader = await asyncio.to_thread(files.open_reader, file)
    return open_file_response(request, reader, file.rstrip("/").rsplit("/", 1)[-1])


@router.put("/upload", response_model=DriveEntry, status_code=201, openapi_extra=RAW_BODY)
async def upload(request: Request, person: PersonDep, svc: ServicesDep, store: UploadsDep,
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

    held = await asyncio.to_thread(store.held_bytes, person.id)
    entry = await files.write_stream(file, body(), max_bytes=limit, reserved=held)
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
