"""The WebSocket of one open notebook: a snapshot, then every delta; commands the other way."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import TypeAdapter, ValidationError

from dikte.api.deps import (
    TOKEN_PROTOCOL_PREFIX,
    Services,
    authenticate,
    check_origin,
    credential_key,
    services,
)
from dikte.api.notebooks import interrupt_cell, no_runtime
from dikte.bridge.callbacks import answer_invoke
from dikte.control.runtime_link import link_of
from dikte.errors import DikteError
from dikte.notebooks import assist
from dikte.notebooks.edit_limits import EditLimits, check_edit, check_message_size
from dikte.notebooks.notebook import OpenNotebook
from dikte.notebooks.snapshot import encode
from dikte.notebooks.viewers import RESYNC, Viewer
from dikte.schemas.ws import (
    ActivityMsg,
    CancelMsg,
    ChannelReadyMsg,
    ChannelReplyMsg,
    ClientMessage,
    CommMsgMsg,
    CompleteMsg,
    EditMsg,
    ExecuteMsg,
    InputReplyMsg,
    InspectMsg,
    InterruptMsg,
    InvokeFunctionMsg,
    RestartMsg,
    VariablesMsg,
)

log = logging.getLogger(__name__)
router = APIRouter()
_client_message: TypeAdapter[Any] = TypeAdapter(ClientMessage)
_background: set[asyncio.Task[None]] = set()


@router.websocket("/api/notebooks/ws")
async def notebook_socket(ws: WebSocket, path: str) -> None:
    try:
        check_origin(ws)
        # a database round trip (PostgreSQL: over the network): off the loop everyone shares
        person = await asyncio.to_thread(authenticate, ws, unsafe=True)
    except DikteError as exc:
        await ws.close(code=4401 if exc.status == 401 else 4403, reason=exc.message[:120])
        return
    svc = services(ws)
    offered = [p.strip() for p in ws.headers.get("sec-websocket-protocol", "").split(",")]
    subprotocol = "dikte" if "dikte" in offered else None
    try:
        nb = await svc.sessions.open(person.id, path)
    except DikteError as exc:
        # accepted first, so that the client reads the sentence (a refused handshake is a bare
        # 403); the close code is 4000 + the HTTP status, e.g. 4404, 4422
        await ws.accept(subprotocol=subprotocol)
        await ws.send_text(json.dumps({"type": "error", "code": exc.code,
                                       "message": exc.message}))
        await ws.close(code=4000 + exc.status, reason=_reason(exc.message))
        return
    await ws.accept(subprotocol=subprotocol)
    viewer = nb.join(credential_key(ws))
    viewer.max_messages = svc.settings.viewer_queue_max_messages
    sender = asyncio.create_task(_send_loop(ws, viewer, nb))
    limits = EditLimits.of(svc.settings)
    try:
        while True:
            frame = await ws.receive()
            if frame["type"] == "websocket.disconnect":
                break
            raw = frame.get("text")
            if raw is None:
                await ws.close(code=1003, reason=BINARY_REFUSED)
                break
            svc.channel.seen(nb, viewer)
            try:
                check_message_size(len(raw) if raw.isascii() else
                                   len(raw.encode("utf-8", "surrogatepass")), limits)
                await _dispatch(nb, svc, viewer, raw, limits)
            except DikteError as exc:
                viewer.send({"type": "error", "code": exc.code, "message": exc.message})
    except WebSocketDisconnect:
        pass
    finally:
        nb.leave(viewer)
        svc.channel.left(nb, viewer)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
        await svc.sessions.release(nb)


BINARY_REFUSED = "This socket takes JSON text messages only, not binary frames."


def _reason(message: str) -> str:
    """A close reason: at most 123 bytes of UTF-8."""
    data = message.encode("utf-8")
    return message if len(data) <= 123 else data[:120].decode("utf-8", "ignore") + "..."


async def _send_loop(ws: WebSocket, viewer: Viewer, nb: OpenNotebook) -> None:
    queue = viewer.queue
    while True:
        msg = await queue.get()
        if msg is None:
            await ws.close()
            return
        if msg is RESYNC:  # it fell behind: the document as it is now replaces the backlog
            snapshot, held = nb.resync(viewer)
            await ws.send_text(await encode(snapshot))
            for notice in held:
                await ws.send_text(await encode(notice))
            continue
        await ws.send_text(await encode(msg))


async def _dispatch(nb: OpenNotebook, svc: Services, viewer: Viewer,
                    raw: str, limits: EditLimits) -> None:
    try:
        msg = _client_message.validate_json(raw)
    except RecursionError:
        raise DikteError("Unreadable message: it is nested too deeply.", code="bad_message",
                         status=400) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise DikteError(f"Unreadable message ({where}: {first.get('msg')}).",
                         code="bad_message", status=400) from None
    if isinstance(msg, ExecuteMsg):
        hashes = {msg.cell_id: msg.source_hash} if msg.source_hash else None
        await svc.sessions.run(nb, [msg.cell_id], hashes)
    elif isinstance(msg, EditMsg):
        check_edit(msg.ops, limits)
        nb.edit(msg.ops)
    elif isinstance(msg, InterruptMsg):
        await interrupt_cell(nb, svc)
    elif isinstance(msg, CancelMsg):
        nb.cancel(msg.cell_ids)
    elif isinstance(msg, RestartMsg):
        link = link_of(nb)
        if link is None or link.handle is None:
            raise no_runtime("restart")
        task = asyncio.create_task(link.restart("The kernel was restarted."))
        _background.add(task)
        task.add_done_callback(_background.discard)
    elif isinstance(msg, InputReplyMsg):
        nb.input_reply(msg.value)
    elif isinstance(msg, ActivityMsg):
        nb.touch()
    elif isinstance(msg, ChannelReadyMsg):
        svc.channel.ready(nb, viewer)
    elif isinstance(msg, ChannelReplyMsg):
        svc.channel.answer(nb, viewer, msg.request_id, msg.value, msg.error)
    elif isinstance(msg, InvokeFunctionMsg):
        answer_invoke(nb, svc.channel, viewer, msg.call_id, msg.cell_id, msg.name,
                      msg.args, msg.keywords)
    elif isinstance(msg, CommMsgMsg):
        nb.comm_from_viewer(viewer, msg.comm_id, msg.data, msg.buffers, msg.msg_id)
    elif isinstance(msg, CompleteMsg | InspectMsg | VariablesMsg):
        _answer_assist(nb, viewer, msg)


def _answer_assist(nb: OpenNotebook, viewer: Viewer,
                   msg: CompleteMsg | InspectMsg | VariablesMsg) -> None:
    """Ask the kernel in the background (the socket keeps reading) and answer this tab only."""

    async def ask() -> None:
        kind = f"{msg.type}_reply"
        try:
            if isinstance(msg, CompleteMsg):
                answer = await assist.complete(nb, msg.code, msg.cursor_pos)
            elif isinstance(msg, InspectMsg):
                answer = await assist.inspect(nb, msg.code, msg.cursor_pos, msg.detail_level)
            else:
                answer = await assist.variables(nb)
        except DikteError as exc:
            nb.send_to(viewer, {"type": kind, "request_id": msg.request_id,
                                "error": exc.message})
            return
        nb.send_to(viewer, {"type": kind, "request_id": msg.request_id, **answer})

    task = asyncio.create_task(ask(), name=f"assist-{msg.type}")
    _background.add(task)
    task.add_done_callback(_background.discard)


__all__ = ["TOKEN_PROTOCOL_PREFIX", "router"]
