"""Notebook endpoints: create, view, edit, connect, run, interrupt, cancel, restart, input,
completion and help."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Response

from dikte.api.deps import PersonDep, Services, ServicesDep
from dikte.api.errors import COMMON_ERRORS, error_responses
from dikte.control.runtime_link import link_of
from dikte.errors import DikteError, RuntimeUnavailable
from dikte.images import catalog
from dikte.notebooks import assist
from dikte.notebooks.document import code_cells
from dikte.notebooks.edit_limits import EditLimits, check_edit
from dikte.notebooks.notebook import OpenNotebook
from dikte.notebooks.snapshot import encode
from dikte.schemas.rest import (
    CancelBody,
    CompleteBody,
    CompleteResult,
    ConnectBody,
    DriveEntry,
    EditBody,
    EditResult,
    InputBody,
    InspectBody,
    InspectResult,
    NotebookView,
    PathBody,
    RunBody,
    RunResult,
    RuntimeInfo,
)

router = APIRouter(prefix="/api/notebooks", tags=["notebooks"],
                   responses=error_responses(*COMMON_ERRORS, 429, 503, 507))


def no_runtime(action: str) -> RuntimeUnavailable:
    return RuntimeUnavailable(
        f"This notebook has no connected runtime, so there is nothing to {action}. Connect one "
        "first (Connect in the toolbar, or POST /api/notebooks/connect).", code="not_connected")


async def interrupt_cell(nb: OpenNotebook, svc: Services) -> None:
    """Interrupt the notebook's running cell (REST and WebSocket), and withdraw the page's
    prompts its kernel had not begun to wait for (see RuntimeChannel.interrupted)."""
    link = link_of(nb)
    if link is None or not link.ready:
        raise no_runtime("interrupt")
    await link.interrupt()
    svc.channel.interrupted(nb)


@router.post("", response_model=DriveEntry, status_code=201)
async def create(body: PathBody, person: PersonDep, svc: ServicesDep) -> DriveEntry:
    entry = await asyncio.to_thread(svc.drive(person.id).new_notebook, body.path)
    return DriveEntry.model_validate(entry.to_dict())


@router.get("/view", response_model=NotebookView)
async def view(path: str, person: PersonDep, svc: ServicesDep) -> Response:
    """The server's copy: document with live outputs, queue state and runtime."""
    nb = await svc.sessions.open(person.id, path)
    await svc.sessions.refresh_usage(nb)
    result = nb.view()
    await svc.sessions.release(nb)
    # encoded in a thread (a big notebook's JSON would stall everyone's requests on the loop)
    return Response(await encode(result, large=True), media_type="application/json")


@router.post("/edit", response_model=EditResult)
async def edit(body: EditBody, person: PersonDep, svc: ServicesDep) -> EditResult:
    check_edit(body.ops, EditLimits.of(svc.settings))
    nb = await svc.sessions.open(person.id, body.path)
    inserted = nb.edit(body.ops)
    await nb.save()
    failed = nb.save_error
    await svc.sessions.release(nb)
    if failed is not None:
        raise DikteError(
            f"{failed.message} The edit is kept in the open notebook, which is saved as soon as "
            "that works again; do not send it again.",
            code=failed.code, status=failed.status, log_message=failed.log_message)
    return EditResult(inserted=inserted)


@router.post("/connect", response_model=RuntimeInfo)
async def connect(body: ConnectBody, person: PersonDep, svc: ServicesDep) -> dict[str, Any]:
    """Connect the notebook to a runtime; returns once its kernel answers."""
    nb = await svc.sessions.open(person.id, body.path)
    if link_of(nb) is None:
        catalog.require_ready(svc.settings, body.image or svc.settings.default_image)
    link = await svc.sessions.connect(nb, body.image, body.shape, body.background)
    return link.info()


@router.post("/disconnect", status_code=204)
async def disconnect(body: PathBody, person: PersonDep, svc: ServicesDep) -> None:
    """Disconnect and delete the runtime: its processes end and /content is deleted."""
    nb = await svc.sessions.open(person.id, body.path)
    await svc.sessions.disconnect(nb)
    await svc.sessions.release(nb)


@router.post("/run", response_model=RunResult)
async def run(body: RunBody, person: PersonDep, svc: ServicesDep) -> RunResult:
    """Queue cells (connecting a runtime first when there is none, as Colab does)."""
    nb = await svc.sessions.open(person.id, body.path)
    ids = body.cell_ids if body.mode == "cells" else code_cells(nb.doc, body.mode, body.anchor)
    if link_of(nb) is None and ids:  # it connects one, of the default image
        catalog.require_ready(svc.settings, svc.settings.default_image)
    return RunResult(queued=await svc.sessions.run(nb, ids, body.source_hashes))


@router.post("/interrupt", status_code=204)
async def interrupt(body: PathBody, person: PersonDep, svc: ServicesDep) -> None:
    await interrupt_cell(await svc.sessions.open(person.id, body.path), svc)


@router.post("/cancel", response_model=RunResult)
async def cancel(body: CancelBody, person: PersonDep, svc: ServicesDep) -> RunResult:
    nb = await svc.sessions.open(person.id, body.path)
    return RunResult(queued=nb.cancel(body.cell_ids))


@router.post("/restart", response_model=RuntimeInfo)
async def restart(body: PathBody, person: PersonDep, svc: ServicesDep) -> dict[str, Any]:
    """Restart the kernel; files in /content and installed packages stay."""
    nb = await svc.sessions.open(person.id, body.path)
    link = link_of(nb)
    if link is None or link.handle is None:
        raise no_runtime("restart")
    await link.restart("The kernel was restarted.")
    return link.info()


@router.post("/input", status_code=204)
async def answer_input(body: InputBody, person: PersonDep, svc: ServicesDep) -> None:
    """Answer the input() or getpass() prompt of the running cell."""
    nb = await svc.sessions.open(person.id, body.path)
    nb.input_reply(body.value)


@router.post("/complete", response_model=CompleteResult)
async def complete(body: CompleteBody, person: PersonDep, svc: ServicesDep) -> dict[str, Any]:
    """Completions from the notebook's kernel at ``cursor_pos`` (answered while a cell runs)."""
    nb = await svc.sessions.open(person.id, body.path)
    try:
        return await assist.complete(nb, body.code, body.cursor_pos)
    finally:
        await svc.sessions.release(nb)


@router.post("/inspect", response_model=InspectResult)
async def inspect(body: InspectBody, person: PersonDep, svc: ServicesDep) -> dict[str, Any]:
    """Help for the name at ``cursor_pos``, as ``name?`` (detail 0) or ``name??`` (detail 1)."""
    nb = await svc.sessions.open(person.id, body.path)
    try:
        return await assist.inspect(nb, body.code, body.cursor_pos, body.detail_level)
    finally:
        await svc.sessions.release(nb)
