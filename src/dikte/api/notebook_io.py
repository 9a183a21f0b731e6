"""Notebooks in and out: download as .ipynb, .py or HTML, and open (copy) one from a URL or a
git repository into the drive."""

from __future__ import annotations

import asyncio
import copy
from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Response

from dikte.api.deps import PersonDep, ServicesDep
from dikte.api.errors import COMMON_ERRORS, error_responses
from dikte.drive.export import export
from dikte.errors import BadRequest
from dikte.schemas.rest import DriveEntry, ImportBody
from dikte.transfers.imports import Importer

router = APIRouter(prefix="/api/notebooks", tags=["notebooks"],
                   responses=error_responses(*COMMON_ERRORS, 413, 507))


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the real one in RFC 5987 form."""
    fallback = "".join(ch if ch.isascii() and ch.isprintable() and ch not in '"\\' else "_"
                       for ch in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.get(
    "/export",
    response_class=Response,
    responses={200: {"description": "The notebook in the format asked for, as an attachment.",
                     "content": {"application/x-ipynb+json": {}, "text/x-python": {},
                                 "text/html": {}}}},
)
async def export_notebook(
    path: str, person: PersonDep, svc: ServicesDep,
    fmt: Literal["ipynb", "py", "html"] = Query("ipynb", alias="format",
                                                description="ipynb, py or html"),
) -> Response:
    """Download a notebook with its current outputs (an open notebook's live copy)."""
    if not path.endswith(".ipynb"):
        raise BadRequest(f"{path} is not a notebook (.ipynb).", code="not_a_notebook")
    nb = svc.sessions.loaded(person.id, path)
    if nb is not None:
        nb.widgets_into_metadata()  # the widgets as they are now, as a save writes them
        doc = copy.deepcopy(nb.doc)  # taken at once: a running cell keeps changing it
    else:
        doc = await asyncio.to_thread(svc.drive(person.id).read_notebook, path)
    result = await asyncio.to_thread(export, doc, path, fmt)
    return Response(result.data, media_type=result.media_type, headers={
        "Content-Disposition": content_disposition(result.filename),
        "X-Content-Type-Options": "nosniff",
        # an exported page opened from this address runs nothing with this site's rights
        "Content-Security-Policy": "sandbox",
        "Cache-Control": "no-store",
    })


@router.post("/import", response_model=DriveEntry, status_code=201)
async def import_notebook(body: ImportBody, person: PersonDep, svc: ServicesDep) -> DriveEntry:
    """Copy a notebook from a URL or a git repository into the drive ("Save a copy in Drive").

    The copy never replaces a file: it is named like the original, or "name (1).ipynb", ...
    A malformed notebook is refused (422) and nothing is saved."""
    entry = await Importer(svc.settings).import_notebook(
        svc.drive(person.id), body.url, body.repo_path, body.ref, body.folder)
    return DriveEntry.model_validate(entry.to_dict())
