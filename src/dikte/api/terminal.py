"""The runtime terminal's WebSocket: a login shell in the notebook's runtime, for xterm.js.

Server to client: binary frames, the pty's output bytes. Client to server: text frames, JSON
``{"type": "input", "data": "..."}`` and ``{"type": "resize", "cols": N, "rows": M}``. When the
shell exits (or the runtime is disconnected) the server closes the socket with code 1000; when the
socket closes the shell and everything it started are ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from dikte.api.deps import authenticate, check_origin, services
from dikte.bridge.terminals import RuntimeTerminal
from dikte.errors import DikteError

log = logging.getLogger(__name__)
router = APIRouter()


@router.websocket("/api/runtime/terminal")
async def terminal_socket(ws: WebSocket, path: str, cols: int = 80, rows: int = 24) -> None:
    try:
        check_origin(ws)
        person = authenticate(ws, unsafe=True)
    except DikteError as exc:
        await ws.close(code=4401 if exc.status == 401 else 4403, reason=exc.message[:120])
        return
    svc = services(ws)
    offered = [p.strip() for p in ws.headers.get("sec-websocket-protocol", "").split(",")]
    try:
        shell = await RuntimeTerminal.open(svc.sessions, person.id, path, cols, rows)
    except DikteError as exc:
        await ws.close(code=4409 if exc.status == 409 else 4400 + exc.status % 100,
                       reason=exc.message[:120])
        return
    await ws.accept(subprotocol="dikte" if "dikte" in offered else None)
    tasks = [asyncio.create_task(_output(ws, shell)), asyncio.create_task(_input(ws, shell)),
             asyncio.create_task(shell.runtime_gone())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if tasks[0] not in done:
            await shell.term.close()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await shell.term.close()
        with contextlib.suppress(Exception):
            await ws.close(code=1000)


async def _output(ws: WebSocket, shell: RuntimeTerminal) -> None:
    """Send the shell's output until it ends (the shell exited or was ended with the runtime)."""
    while (data := await shell.term.read()) is not None:
        await ws.send_bytes(data)


async def _input(ws: WebSocket, shell: RuntimeTerminal) -> None:
    """Keystrokes and resizes until the client goes away."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("bytes"):
                shell.term.write(message["bytes"])
                continue
            try:
                msg = json.loads(message.get("text") or "")
                if msg["type"] == "input":
                    shell.term.write(str(msg["data"]).encode())
                elif msg["type"] == "resize":
                    shell.term.resize(int(msg["cols"]), int(msg["rows"]))
            except (ValueError, KeyError, TypeError):
                log.debug("unreadable terminal message %r", message.get("text"))
