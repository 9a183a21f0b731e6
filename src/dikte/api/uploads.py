"""Chunked, resumable uploads (see :mod:`dikte.transfers.uploads`).

``POST /api/uploads`` starts one; each ``PUT ?offset=N`` appends the chunk that starts at byte N;
``GET`` says where the upload stands (the way to resume after a dropped connection); ``complete``
places the file. A chunk at the wrong offset is refused with 409 ``wrong_offset``, the right
offset in the message and in the ``Upload-Offset`` header.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.requests import ClientDisconnect, HTTPConnection

from dikte.api.deps import PersonDep, ServicesDep
from dikte.api.errors import COMMON_ERRORS, error_response, error_responses
from dikte.schemas.rest import DriveEntry, ErrorResponse, UploadInfo, UploadStart, UploadStatus
from dikte.transfers.uploads import UploadPlan, Uploads, WrongOffset

log = logging.getLogger(__name__)
RAW_BODY = {"requestBody": {"required": True, "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}
router = APIRouter(prefix="/api/uploads", tags=["uploads"],
                   responses=error_responses(*COMMON_ERRORS, 413, 507))


def uploads(conn: HTTPConnection) -> Uploads:
    found: Uploads = conn.app.state.uploads
    return found


UploadsDep = Annotated[Uploads, Depends(uploads)]


@router.post("", response_model=UploadInfo, status_code=201,
             responses=error_responses(429))
async def start(body: UploadStart, person: PersonDep, svc: ServicesDep,
                store: UploadsDep) -> UploadInfo:
    """Start an upload of ``size`` bytes to your drive or to a runtime's /content. Its size
    counts against your drive quota until it is finished or cancelled (507 ``drive_full``), and
    at most 8 may be unfinished at once (429 ``too_many_uploads``)."""
    plan = UploadPlan(target=body.target, notebook=body.notebook, path=body.path,
                      size=body.size, overwrite=body.overwrite)
    upload_id = store.create(svc.sessions, person.id, plan)
    return UploadInfo(upload_id=upload_id, offset=0, size=body.size, chunk_size=store.chunk_size)


@router.put("/{upload_id}", response_model=UploadStatus, openapi_extra=RAW_BODY,
            responses={409: {"model": ErrorResponse,
                             "description": "wrong_offset: the header Upload-Offset and the "
                             "message give the offset the next chunk must start at."}})
async def append(upload_id: str, request: Request, person: PersonDep, svc: ServicesDep,
                 store: UploadsDep,
                 offset: int = Query(ge=0, description="Where this chunk starts.")
                 ) -> UploadStatus | Response:
    """Append the raw body, the chunk that starts at ``offset``."""
    declared = request.headers.get("content-length")

    async def body() -> AsyncIterator[bytes]:
        async for chunk in request.stream():
            if chunk:
                yield chunk

    try:
        new, size = await store.append(svc.sessions, person.id, upload_id, offset, body(),
                                       int(declared) if declared and declared.isdigit() else None)
    except WrongOffset as exc:
        response = error_response(exc.status, exc.code, exc.message)
        response.headers["Upload-Offset"] = str(exc.offset)
        return response
    except ClientDisconnect:  # the part is back at the last whole chunk; the client resumes
        log.info("upload %s: the connection dropped during a chunk", upload_id)
        return Response(status_code=400)
    return UploadStatus(offset=new, size=size)


@router.get("/{upload_id}", response_model=UploadStatus)
async def status(upload_id: str, person: PersonDep, store: UploadsDep) -> UploadStatus:
    """Where the upload stands: the next chunk starts at ``offset``."""
    offset, plan = store.status(person.id, upload_id)
    return UploadStatus(offset=offset, size=plan.size)


@router.post("/{upload_id}/complete", response_model=DriveEntry)
async def complete(upload_id: str, person: PersonDep, svc: ServicesDep,
                   store: UploadsDep) -> DriveEntry:
    """Place the file (notebooks are validated first); the upload is then gone."""
    entry = await store.complete(svc.sessions, person.id, upload_id)
    return DriveEntry.model_validate(entry.to_dict())


@router.delete("/{upload_id}", status_code=204)
async def cancel(upload_id: str, person: PersonDep, store: UploadsDep) -> None:
    await store.cancel(person.id, upload_id)
