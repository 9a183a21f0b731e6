"""Byte streams to a runtime on another machine: its terminal and its served ports.

The node host listens on one TLS port (in its relay range) with a certificate of its own, which
the control plane learns, with a random token, from the node host's info (through Ray, which
token auth protects). A stream opens with one JSON line from the control plane (the token, the
runtime, what it wants) and one JSON line back (``{"ok": true}`` or the refusal: code, status,
sentence, which the control plane raises as the same error). Then:

- ``port``: the bytes of a TCP connection to the runtime's ``127.0.0.1:port``, made by the node's
  local backend (only when the runtime's own user listens there); the control plane hands the
  port proxy one end of a socket pair and carries the other over the stream.
- ``terminal``: frames (a kind byte, a 4-byte length, the payload): ``d`` pty bytes either way,
  ``r`` a resize (``[cols, rows]``), from a shell the node's local backend starts in the runtime.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import secrets
import socket
import ssl
import struct
from pathlib import Path
from typing import Any

from dikte.errors import DikteError
from dikte.runtimes import tunnel
from dikte.runtimes.base import RuntimeBackend, RuntimeHandle

log = logging.getLogger(__name__)

NODE_NAME = "dikte-node"
"""The name in every node's stream certificate (each node's is its own)."""
_HEADER = struct.Struct("!cI")
_MAX_FRAME = 1 << 20


async def _line(reader: asyncio.StreamReader, timeout: float = 30.0) -> dict[str, Any]:
    raw = await asyncio.wait_for(reader.readline(), timeout)
    data: dict[str, Any] = json.loads(raw)
    return data


def _send_line(writer: asyncio.StreamWriter, value: dict[str, Any]) -> None:
    writer.write(json.dumps(value).encode() + b"\n")


async def read_frame(reader: asyncio.StreamReader) -> tuple[bytes, bytes] | None:
    try:
        head = await reader.readexactly(_HEADER.size)
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
        return None
    kind, size = _HEADER.unpack(head)
    if size > _MAX_FRAME:
        return None
    try:
        return kind, await reader.readexactly(size)
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
        return None


def frame(kind: bytes, payload: bytes) -> bytes:
    return _HEADER.pack(kind, len(payload)) + payload


class NodeStreams:
    """The node's side: serves streams to its runtimes (see the module docstring)."""

    def __init__(self, backend: RuntimeBackend, handles: dict[str, RuntimeHandle],
                 folder: Path, address: str, ports: tuple[int, int]) -> None:
        self.backend = backend
        self.handles = handles
        self.folder = folder
        self.address = address
        self.ports = ports
        self.token = secrets.token_hex(32)
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> dict[str, Any]:
        """Listen (once); what the control plane needs to open streams here."""
        if self._server is None:
            cert, key = tunnel.certificate(self.folder, NODE_NAME)
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(cert, key)
            sock = _bind_in(self.address, self.ports)
            self.port = sock.getsockname()[1]
            self._server = await asyncio.start_server(self._handle, sock=sock, ssl=ctx)
        return {"port": self.port, "token": self.token,
                "cert": (self.folder / "channel.crt").read_text()}

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            ask = await _line(reader)
            if not hmac.compare_digest(str(ask.get("token", "")), self.token):
                return  # not the control plane: nothing said
            handle = self.handles.get(str(ask.get("runtime_id")))
            if handle is None:
                raise DikteError("The runtime is no longer running.", code="not_running",
                                 status=409)
            if ask.get("kind") == "port":
                sock = await self.backend.connect_port(handle, int(ask["port"]))
                inner = await asyncio.open_connection(sock=sock)
                _send_line(writer, {"ok": True})
                await writer.drain()
                await tunnel.join_streams((reader, writer), inner)
            elif ask.get("kind") == "terminal":
                term = await self.backend.open_terminal(handle, int(ask["cols"]),
                                                        int(ask["rows"]))
                _send_line(writer, {"ok": True})
                await writer.drain()
                await _serve_terminal(term, reader, writer)
        except DikteError as exc:
            _send_line(writer, {"error": exc.code, "status": exc.status,
                                "message": exc.message})
        except (OSError, TimeoutError, ValueError, KeyError) as exc:
            log.info("a stream to a runtime ended: %r", exc)
            _send_line(writer, {"error": "stream_failed", "status": 502,
                                "message": "The runtime's machine could not open it."})
        finally:
            with contextlib.suppress(Exception):
                await writer.drain()
            writer.close()


async def _serve_terminal(term: Any, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
    async def out() -> None:
        while (data := await term.read()) is not None:
            writer.write(frame(b"d", data))
            await writer.drain()

    async def into() -> None:
        while (got := await read_frame(reader)) is not None:
            kind, payload = got
            if kind == b"d":
                term.write(payload)
            elif kind == b"r":
                cols, rows = json.loads(payload)
                term.resize(int(cols), int(rows))

    try:
        await tunnel.until_first_ends(out(), into())
    finally:
        await term.close()


def _bind_in(address: str, ports: tuple[int, int]) -> socket.socket:
    last: OSError | None = None
    for port in [*range(ports[0], ports[1]), 0][:2000]:
        sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
        try:
            sock.bind((address, port))
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise OSError(f"no free port for streams on {address}") from last


# -- the control plane's side ------------------------------------------------------------------


async def open_stream(node: dict[str, Any], ask: dict[str, Any],
                      timeout: float = 30.0) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A stream to a runtime on ``node`` (its info's ``address`` and ``streams``); raises the
    node's refusal as the same error."""
    streams = node["streams"]
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=streams["cert"])
    reader, writer = await asyncio.wait_for(asyncio.open_connection(
        node["address"], streams["port"], ssl=ctx, server_hostname=NODE_NAME), timeout)
    _send_line(writer, {"token": streams["token"], **ask})
    await writer.drain()
    try:
        answer = await _line(reader, timeout)
    except (ValueError, asyncio.IncompleteReadError, ConnectionError) as exc:
        writer.close()
        raise DikteError("The runtime's machine did not answer.", code="stream_failed",
                         status=502) from exc
    if not answer.get("ok"):
        writer.close()
        raise DikteError(str(answer.get("message")), code=str(answer.get("error")),
                         status=int(answer.get("status", 502)))
    return reader, writer


async def socket_over(reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> tuple[socket.socket, asyncio.Task[None]]:
    """One end of a socket pair (non-blocking, for the port proxy); the other end is carried
    over the stream by the returned task until either side closes."""
    mine, theirs = socket.socketpair()
    mine.setblocking(False)
    inner = await asyncio.open_connection(sock=theirs)
    task = asyncio.ensure_future(tunnel.join_streams((reader, writer), inner))
    return mine, task


class RemoteTerminal:
    """A shell in a runtime on another machine, with the local Terminal's interface."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self) -> bytes | None:
        while (got := await read_frame(self._reader)) is not None:
            if got[0] == b"d":
                return got[1]
        return None

    def write(self, data: bytes) -> None:
        self._writer.write(frame(b"d", data))

    def resize(self, cols: int, rows: int) -> None:
        self._writer.write(frame(b"r", json.dumps([cols, rows]).encode()))

    async def close(self, grace: float = 1.0) -> None:
        self._writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._writer.wait_closed(), grace)
