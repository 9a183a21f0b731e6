"""Drive endpoints: list, folders, upload, download, rename/move, delete."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from dikte.api.deps import PersonDep, ServicesDep
from dikte.api.downloads import open_file_response
from dikte.api.errors import COMMON_ERRORS, error_responses
from dikte.api.uploads import UploadsDep
from dikte.config import format_size
from dikte.drive.paths import canonical
from dikte.errors import BadRequest, PayloadTooLarge
from dikte.schemas.rest import DriveEntry, DriveListing, PathBody, RenameBody

router = APIRouter(prefix="/api/drive", tags=["drive"],
                   responses=error_responses(*COMMON_ERRORS, 413, 507))


@router.get("/list", response_model=DriveListing)
async def list_dir(person: PersonDep, svc: ServicesDep, path: str = "") -> DriveListing:
    entries = await asyncio.to_thread(svc.drive(person.id).list, path)
    return DriveListing(path=path, entries=[DriveEntry.model_validate(e.to_dict()) for e in entries])


@router.post("/dirs", response_model=DriveEntry, status_code=201)
async def make_dir(body: PathBody, person: PersonDep, svc: ServicesDep) -> DriveEntry:
    entry = await asyncio.to_thread(svc.drive(person.id).mkdir, body.path)
    return DriveEntry.model_validate(entry.to_dict())


@router.get("/files/{path:path}", response_class=StreamingResponse,
            responses={200: {"content": {"application/octet-stream": {}}},
                       206: {"description": "The byte range asked for (Range: bytes=a-b)."}})
async def download(path: str, request: Request, person: PersonDep,
                   svc: ServicesDep) -> Response:
    """Download a file (one byte range may be asked for)."""
    drive = svc.drive(person.id)
    nb = svc.sessions.loaded(person.id, path)
    if nb is not None:
        await nb.save()  # the file on disk carries the latest outputs
    f = await asyncio.to_thread(drive.open_reader, path)
    return open_file_response(request, f, path.rstrip("/").rsplit("/", 1)[-1])


@router.put("/files/{path:path}", response_model=DriveEntry, status_code=201)
async def upload(path: str, request: Request, person: PersonDep, svc: ServicesDep,
                 store: UploadsDep, overwrite: bool = Query(True)) -> DriveEntry:
    """Upload one file as the raw request body (streamed to disk; atomic). Unfinished chunked
    uploads count as used space in the drive's quota."""
    limit = svc.settings.upload_max_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(
            f"This file is {format_size(int(declared))}; one upload may carry at most "
            f"{format_size(limit)}. Split it, or ask your administrator to raise upload_max_bytes.")
    if svc.sessions.loaded(person.id, path) is not None:
        raise BadRequest("This notebook is open; close its runtime and viewers before "
                         "replacing it, or upload under another name.", code="notebook_open")

    async def body() -> AsyncIterator[bytes]:
        async for chunk in request.stream():
            if chunk:
                yield chunk

    held = await asyncio.to_thread(store.held_bytes, person.id)
    entry = await svc.drive(person.id).write_stream(path, body(), max_bytes=limit,
                                                    overwrite=overwrite, reserved=held)
    return DriveEntry.model_validate(entry.to_dict())


@router.post("/rename", response_model=DriveEntry)
async def rename(body: RenameBody, person: PersonDep, svc: ServicesDep) -> DriveEntry:
    """Rename or move a file or folder (open notebooks follow)."""
    entry = await asyncio.to_thread(svc.drive(person.id).rename, body.src, body.dst)
    svc.sessions.renamed(person.id, entry_path(body.src), entry.path)
    return DriveEntry.model_validate(entry.to_dict())


@router.delete("/files/{path:path}", status_code=204)
async def delete(path: str, person: PersonDep, svc: ServicesDep) -> None:
    drive = svc.drive(person.id)
    await asyncio.to_thread(drive.stat, path)
    await svc.sessions.deleted(person.id, entry_path(path))
    await asyncio.to_thread(drive.delete, path)


def entry_path(path: str) -> str:
    return canonical(path)
