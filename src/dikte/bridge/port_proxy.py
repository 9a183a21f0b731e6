"""Serving a port of a runtime to its person's browser (Colab's ``serve_kernel_port_as_iframe``).

Three pieces, each small:

- :class:`ServedPorts`: the ports each runtime asked to serve (through the runtime channel).
  Nothing else is ever proxied.
- Capabilities: an HMAC-signed, expiring token naming (runtime, port, person), minted for the
  person by an authenticated API call and carried in the proxied URL's path. A sandboxed
  document runs in an opaque origin whose own requests carry no cookie, so the URL itself has
  to be the credential; it is short-lived, bound to one port of one live runtime and its
  owner, and never stored in the notebook. :func:`sign` and :func:`verify` are pure (``now``
  is passed in).
- :func:`transport_into`: an httpx transport whose connections its runtime's backend makes
  (``RuntimeBackend.connect_port``), which connects only to a port that a process of the
  runtime listens on: never to the control plane, a database, or another person's runtime.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import select
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

MAX_PORTS_PER_RUNTIME = 32
CAPABILITY_TTL_S = 4 * 3600
"""How long a proxied URL works (the page asks for a new one each time it shows the output)."""
_MAC_BYTES = 24
_LABEL = b"dikte-port-proxy\0"


def port_refusal(port: int, server_port: int | None) -> str | None:
    """Why ``port`` may not be proxied, or ``None`` when it may."""
    if not 1024 < port <= 65535:
        return f"Port {port} cannot be served: choose a port from 1025 to 65535."
    if server_port is not None and port == server_port:
        return f"Port {port} is Dikte's own port and cannot be served."
    return None


class ServedPorts:
    """The ports each runtime asked to serve; in memory (a restarted server forgets them, and
    the cell that served the port has to run again)."""

    def __init__(self) -> None:
        self._ports: dict[str, set[int]] = {}

    def serve(self, runtime_id: str, port: int) -> bool:
        """Record the request; ``False`` when the runtime already serves too many ports."""
        ports = self._ports.setdefault(runtime_id, set())
        if port not in ports and len(ports) >= MAX_PORTS_PER_RUNTIME:
            return False
        ports.add(port)
        return True

    def serves(self, runtime_id: str, port: int) -> bool:
        return port in self._ports.get(runtime_id, ())

    def keep_only(self, live_runtime_ids: set[str]) -> None:
        """Forget the ports of runtimes that have ended."""
        for rid in list(self._ports):
            if rid not in live_runtime_ids:
                del self._ports[rid]


@dataclass(frozen=True)
class Capability:
    runtime_id: str
    port: int
    person_id: int
    expires_at: int


class CapabilityRefused(Exception):
    """The token is malformed, forged or expired; the message says which, for the person."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _mac(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, _LABEL + body.encode(), hashlib.sha256).digest()[:_MAC_BYTES])


def sign(key: bytes, cap: Capability) -> str:
    """``<runtime>.<port>.<person>.<expires>.<mac>``: URL-safe, one path segment."""
    body = f"{cap.runtime_id}.{cap.port}.{cap.person_id}.{cap.expires_at}"
    return f"{body}.{_mac(key, body)}"


def verify(key: bytes, token: str, now: float) -> Capability:
    parts = token.split(".")
    if len(parts) != 5 or not all(parts):
        raise CapabilityRefused("This proxied address is not valid.")
    body, mac = ".".join(parts[:4]), parts[4]
    if not hmac.compare_digest(mac.encode(), _mac(key, body).encode()):
        raise CapabilityRefused("This proxied address is not valid.")
    rid, port, person, expires = parts[:4]
    try:
        cap = Capability(runtime_id=rid, port=int(port), person_id=int(person),
                         expires_at=int(expires))
    except ValueError:
        raise CapabilityRefused("This proxied address is not valid.") from None
    if now >= cap.expires_at:
        raise CapabilityRefused("This proxied address has expired. Show the output again (or "
                                "run its cell again) for a new one.")
    return cap


class PortProxy:
    """The served ports and the key capabilities are signed with (one per server)."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self.ports = ServedPorts()

    def sign(self, cap: Capability) -> str:
        return sign(self._key, cap)

    def verify(self, token: str, now: float) -> Capability:
        return verify(self._key, token, now)


# ---- connections into a runtime's network, as httpx makes them -------------------------------

Connect = Callable[[int, float], Awaitable[socket.socket]]
"""``(port, timeout) -> socket``: a connection to the runtime's port (``RuntimeBackend.connect_port``
for one runtime)."""


class _Stream(httpcore.AsyncNetworkStream):
    def __init__(self, sock: socket.socket, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.sock, self.reader, self.writer = sock, reader, writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return await asyncio.wait_for(self.reader.read(max_bytes), timeout)
        except TimeoutError:
            raise httpcore.ReadTimeout("no answer in time") from None
        except OSError as exc:
            raise httpcore.ReadError(str(exc)) from None

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        try:
            self.writer.write(buffer)
            await asyncio.wait_for(self.writer.drain(), timeout)
        except TimeoutError:
            raise httpcore.WriteTimeout("could not send in time") from None
        except OSError as exc:
            raise httpcore.WriteError(str(exc)) from None

    async def aclose(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()

    async def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("a runtime's ports are proxied over plain HTTP")

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # an idle kept-alive connection that the server closed
            return self.reader.at_eof() or bool(select.select([self.sock], [], [], 0)[0])
        if info == "socket":
            return self.sock
        return self.writer.get_extra_info(info)


class _Backend(httpcore.AsyncNetworkBackend):
    def __init__(self, connect: Connect) -> None:
        self.connect = connect

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        try:
            sock = await self.connect(port, timeout or 10.0)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"{host}:{port} did not answer") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from None
        reader, writer = await asyncio.open_connection(sock=sock)
        return _Stream(sock, reader, writer)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("a runtime's ports are TCP ports")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def transport_into(connect: Connect) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose connections are made with ``connect`` (into the runtime's
    network, by its backend). A refusal of ``connect`` (a :class:`~dikte.errors.DikteError`:
    nothing of the runtime listens there) comes out of the request as it is."""
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    # httpx takes no network backend of its own; its pool is httpcore's, which does
    transport._pool = httpcore.AsyncConnectionPool(network_backend=_Backend(connect))
    return transport
