"""The runtime channel: endpoints for code inside one runtime (see dikte.bridge.channel).

Only a runtime's own token opens them (``Authorization: Bearer <DIKTE_RUNTIME_TOKEN>``, see
``dikte.bridge.channel``), while the runtime is connected. People's tokens and cookies do not,
a runtime token opens nothing else, and a browser (any request with an ``Origin``) is refused.
Other routers add their channel endpoints under the same prefix with :data:`CallerDep`
(secrets, served ports).

- ``POST /requests`` asks the notebook's page for something (``eval_js``, ``upload``,
  ``download``); ``GET /requests/{id}?wait=S`` long-polls for the answer; ``DELETE`` gives up.
- ``POST /unassign`` ends the runtime (``google.colab.runtime.unassign()``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query, Request

from dikte.api.deps import ServicesDep, bearer_token, services
from dikte.api.errors import error_responses
from dikte.bridge.channel import content_relative
from dikte.control.runtime_link import link_of
from dikte.errors import Conflict, Forbidden, NotFound, Unauthorized
from dikte.notebooks.notebook import OpenNotebook
from dikte.schemas.channel import (
    ChannelAnswer,
    ChannelRequestBody,
    ChannelRequestOpened,
    DownloadRequest,
    EvalJsRequest,
    Unassigned,
)

UNASSIGN_REASON = "The notebook's code ended its runtime."
LONGEST_POLL = 60.0

router = APIRouter(prefix="/api/runtime-channel/{runtime_id}", tags=["runtime channel"],
                   responses=error_responses(400, 401, 403, 404, 409, 422))


@dataclass(frozen=True)
class Caller:
    """A runtime calling its channel: its id and its notebook (``nb.path``, ``nb.person_id``)."""

    runtime_id: str
    nb: OpenNotebook


def runtime_caller(
    request: Request,
    runtime_id: Annotated[str, Path(max_length=64, description="The calling runtime.")],
) -> Caller:
    """The runtime whose own token this request carries, connected now, and its notebook."""
    svc = services(request)
    token = bearer_token(request)
    if not token:
        raise Unauthorized("This address is for code inside a runtime: send its token as "
                           "'Authorization: Bearer <DIKTE_RUNTIME_TOKEN>'.",
                           code="no_runtime_token")
    if not svc.channel.token_is_valid(runtime_id, token):
        raise Unauthorized("This runtime token is not valid for this runtime.",
                           code="bad_runtime_token")
    if request.headers.get("origin") is not None:
        raise Forbidden("The runtime channel does not take requests from web pages.",
                        code="bad_origin")
    try:
        nb = svc.sessions.find_runtime(None, runtime_id)
    except NotFound:
        raise Unauthorized("This runtime has ended; its token no longer works.",
                           code="runtime_ended") from None
    link = link_of(nb)
    if link is None or link.handle is None or link.status != "connected":
        raise Conflict("This runtime is not connected now.", code="not_connected")
    return Caller(runtime_id=runtime_id, nb=nb)


CallerDep = Annotated[Caller, Depends(runtime_caller)]


@router.post("/requests", response_model=ChannelRequestOpened, status_code=201)
async def open_request(body: ChannelRequestBody, caller: CallerDep,
                       svc: ServicesDep) -> ChannelRequestOpened:
    """Ask the notebook's page (the tab used last) for something; 409 ``no_viewer`` when no
    tab has the notebook open."""
    channel = svc.channel
    nb = caller.nb
    link = link_of(nb)
    assert link is not None and link.handle is not None
    # the outputs the kernel sent before this request go first: it published a marker on iopub
    # after them; without one (or if it is late), what has arrived is handled first
    if body.marker is None or not await link.channel.marker_seen(body.marker):
        await link.channel.caught_up()
    cell_id = channel.cell_for(nb, body.parent)
    root = svc.sessions.backend.content_root(link.handle)
    if isinstance(body, EvalJsRequest):
        req = channel.open(nb, caller.runtime_id, "eval_js", cell_id, {"script": body.script},
                           keep_answer=body.wait)
    elif isinstance(body, DownloadRequest):
        rel = content_relative(body.path, root)
        url = "/api/runtime/files/download?" + urlencode({"path": nb.path, "file": rel})
        req = channel.open(nb, caller.runtime_id, "download", cell_id,
                           {"path": rel, "name": rel.rsplit("/", 1)[-1], "url": url})
    else:
        rel = content_relative(body.directory, root)
        req = channel.open(nb, caller.runtime_id, "upload", cell_id,
                           {"directory": rel, "notebook": nb.path})
    return ChannelRequestOpened(request_id=req.request_id)


@router.get("/requests/{request_id}", response_model=ChannelAnswer)
async def poll_request(request_id: str, caller: CallerDep, svc: ServicesDep,
                       wait: float = Query(20.0, ge=0, le=LONGEST_POLL,
                                           description="Seconds to wait for the answer.")
                       ) -> ChannelAnswer:
    """The answer, once there (then it is forgotten), or ``done: false`` after ``wait``."""
    req = await svc.channel.wait(caller.runtime_id, request_id, wait)
    if not req.answered.is_set():
        return ChannelAnswer(done=False)
    return ChannelAnswer(done=True, value=req.value, error=req.error)


@router.delete("/requests/{request_id}", status_code=204)
async def cancel_request(request_id: str, caller: CallerDep, svc: ServicesDep) -> None:
    """Give up waiting (a timeout, an interrupted cell): the page drops its prompt."""
    svc.channel.cancel(caller.runtime_id, request_id)


@router.post("/unassign", response_model=Unassigned, status_code=202)
async def unassign(caller: CallerDep, svc: ServicesDep, after: BackgroundTasks) -> Unassigned:
    """End this runtime, as disconnecting it does, once this answer is sent."""
    after.add_task(svc.sessions.disconnect, caller.nb, UNASSIGN_REASON)
    return Unassigned(status="ending")
