"""The port proxy: a runtime's web server, shown to its person through the control plane.

1. Code in the runtime calls ``serve_kernel_port_as_iframe(port)``; the kernel tells the
   control plane through the runtime channel (``POST /api/runtime-channel/{id}/ports``) and
   shows an output naming the runtime and port.
2. The page, signed in as the person, asks ``POST /api/runtime/proxy`` for a capability: a
   signed, expiring token naming (runtime, port, person), refused unless the person owns the
   live runtime and the runtime asked to serve that port.
3. ``/proxy/<capability>/<path>`` forwards to ``http://127.0.0.1:<port>/<path>`` while the
   capability holds, only when a process of the runtime listens there (the runtime's backend
   checks, ``RuntimeBackend.connect_port``), and never to
   Dikte's own port. The app's cookies and the Authorization header are removed from what is
   forwarded; the answer is sandboxed (``Content-Security-Policy: sandbox ...`` without
   ``allow-same-origin``) so it runs in an opaque origin: it cannot read the app's cookies or
   call the API as the person. Set-Cookie and other headers that would change the app's own
   origin are dropped. WebSockets are proxied the same way.

See docs/api.md ("Serving a runtime's port") for why the capability travels in the path.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, Request, WebSocket
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.requests import HTTPConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from dikte.api.deps import (
    TOKEN_PROTOCOL_PREFIX,
    PersonDep,
    bearer_token,
    cookie_name,
    services,
)
from dikte.api.errors import COMMON_ERRORS, error_responses
from dikte.api.runtime_channel import CallerDep
from dikte.bridge.port_proxy import (
    CAPABILITY_TTL_S,
    Capability,
    CapabilityRefused,
    PortProxy,
    port_refusal,
    transport_into,
)
from dikte.control.runtime_link import link_of
from dikte.errors import BadRequest, Conflict, DikteError, Forbidden, NotFound
from dikte.runtimes.base import RuntimeHandle
from dikte.schemas.rest import ProxyCapability, ProxyCapabilityBody, ServedPort, ServePortBody

router = APIRouter(responses=error_responses(*COMMON_ERRORS))

SANDBOX_CSP = ("sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads; "
               "frame-ancestors 'self'")
# never forwarded upstream: the app's credentials, hop-by-hop headers, and what we set
_DROP_REQUEST = {"cookie", "authorization", "host", "connection", "keep-alive", "te", "trailer",
                 "transfer-encoding", "upgrade", "proxy-authorization", "proxy-connection",
                 "referer", "forwarded", "x-forwarded-for", "x-forwarded-host",
                 "x-forwarded-proto"}
# never passed back: hop-by-hop, and headers that would act on the app's own origin
_DROP_RESPONSE = {"connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade",
                  "proxy-authenticate", "set-cookie", "set-cookie2", "clear-site-data",
                  "strict-transport-security", "service-worker-allowed", "referrer-policy"}
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def port_proxy(conn: HTTPConnection) -> PortProxy:
    proxy: PortProxy = conn.app.state.port_proxy
    return proxy


PortProxyDep = Annotated[PortProxy, Depends(port_proxy)]


def _server_port(conn: HTTPConnection) -> int | None:
    server = conn.scope.get("server")
    return int(server[1]) if server and server[1] is not None else None


def _handle(conn: HTTPConnection, runtime_id: str) -> RuntimeHandle | None:
    """The runtime's handle while this server holds it connected."""
    try:
        link = link_of(services(conn).sessions.find_runtime(None, runtime_id))
    except NotFound:
        return None
    return link.handle if link is not None else None


def _dikte_port(conn: HTTPConnection, runtime_id: str) -> int | None:
    """Dikte's port as the runtime sees it: none when the runtime has a network of its own
    (its port of that number is its own, and the proxy connects there)."""
    handle = _handle(conn, runtime_id)
    if handle is not None and not services(conn).backend.shares_loopback(handle):
        return None
    return _server_port(conn)


def _connector(conn: HTTPConnection, runtime_id: str) -> Callable[[int, float],
                                                                  Awaitable[socket.socket]]:
    """Connections to the runtime's ports, made by its backend (which refuses a port nothing
    of the runtime listens on)."""
    handle = _handle(conn, runtime_id)
    if handle is None:
        raise NotFound("The runtime behind this address has ended.", code="no_runtime")
    backend = services(conn).backend

    async def connect(port: int, timeout: float) -> socket.socket:
        return await backend.connect_port(handle, port, timeout)

    return connect


@router.post("/api/runtime-channel/{runtime_id}/ports", response_model=ServedPort,
             tags=["runtime channel"])
def serve_port(body: ServePortBody, caller: CallerDep, request: Request,
               proxy: PortProxyDep) -> ServedPort:
    """For a runtime (its token): allow its person to open ``port`` through the proxy."""
    refusal = port_refusal(body.port, _server_port(request))
    if refusal:
        raise BadRequest(refusal, code="bad_port")
    proxy.ports.keep_only({r.id for r in services(request).db.live_runtimes()})
    if not proxy.ports.serve(caller.runtime_id, body.port):
        raise BadRequest("This runtime already serves as many ports as it may.",
                         code="too_many_ports")
    return ServedPort(runtime_id=caller.runtime_id, port=body.port)


@router.post("/api/runtime/proxy", response_model=ProxyCapability, tags=["port proxy"])
def mint(body: ProxyCapabilityBody, person: PersonDep, request: Request,
         proxy: PortProxyDep) -> ProxyCapability:
    """A same-origin URL, valid for a few hours, that shows a port your runtime serves."""
    record = services(request).db.runtime(body.runtime_id)
    if record is None or record.person_id != person.id or record.status == "ended":
        raise NotFound("There is no such runtime of yours (it may have ended). Run the cell "
                       "that serves the port again.", code="no_runtime")
    refusal = port_refusal(body.port, _dikte_port(request, record.id))
    if refusal:
        raise BadRequest(refusal, code="bad_port")
    if not proxy.ports.serves(record.id, body.port):
        raise Conflict(f"The runtime has not asked to serve port {body.port}. Call "
                       f"google.colab.output.serve_kernel_port_as_iframe({body.port}) in a "
                       "cell first.", code="port_not_served")
    path = body.path if body.path.startswith("/") else "/" + body.path
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in path):
        raise BadRequest("The path may not contain spaces or control characters; "
                         "percent-encode them.", code="bad_path")
    expires = int(time.time()) + CAPABILITY_TTL_S
    token = proxy.sign(Capability(runtime_id=record.id, port=body.port, person_id=person.id,
                                  expires_at=expires))
    return ProxyCapability(url=f"/proxy/{token}{path}", expires_at=expires)


def _authorize(conn: HTTPConnection, token: str) -> Capability:
    """The capability, checked against the runtime, its ports and whoever is asking."""
    svc = services(conn)
    proxy = port_proxy(conn)
    try:
        cap = proxy.verify(token, time.time())
    except CapabilityRefused as exc:
        raise Forbidden(str(exc), code="bad_capability") from None
    record = svc.db.runtime(cap.runtime_id)
    if record is None or record.status == "ended" or record.person_id != cap.person_id:
        raise NotFound("The runtime behind this address has ended.", code="no_runtime")
    if not proxy.ports.serves(cap.runtime_id, cap.port):
        raise NotFound(f"The runtime no longer serves port {cap.port}. Run the cell that "
                       "serves it again.", code="port_not_served")
    if port_refusal(cap.port, _dikte_port(conn, cap.runtime_id)):
        raise Forbidden(f"Port {cap.port} cannot be served.", code="bad_port")
    # a request that carries a Dikte credential must be the owner's (a sandboxed page's own
    # requests carry none: the capability alone speaks for them)
    asker = _credential_person(conn)
    if asker is not None and asker != cap.person_id:
        raise Forbidden("This proxied address belongs to someone else.", code="not_yours")
    return cap


def _credential_person(conn: HTTPConnection) -> int | None:
    db = services(conn).db
    token = bearer_token(conn)
    cred = db.credential_for_token(token) if token else None
    if cred is None:
        session_id = conn.cookies.get(cookie_name(conn))
        cred = db.credential_for_session(session_id) if session_id else None
    return cred.person.id if cred else None


def _upstream_target(conn: HTTPConnection, token: str, port: int, scheme: str) -> str:
    raw = conn.scope.get("raw_path") or conn.scope["path"].encode()
    prefix = f"/proxy/{token}".encode()
    rest = raw[len(prefix):] if raw.startswith(prefix) else b"/"
    query = conn.scope.get("query_string", b"")
    target = f"{scheme}://127.0.0.1:{port}{rest.decode('latin-1') or '/'}"
    return target + (f"?{query.decode('latin-1')}" if query else "")


def _response_headers(upstream: httpx.Response, token: str,
                      port: int) -> list[tuple[bytes, bytes]]:
    out = []
    for name, value in upstream.headers.raw:
        low = name.lower()
        if low.decode("latin-1") in _DROP_RESPONSE:
            continue
        if low == b"location":
            value = _relocate(value.decode("latin-1"), token, port).encode("latin-1")
        out.append((low, value))
    out += [(b"content-security-policy", SANDBOX_CSP.encode()),
            (b"referrer-policy", b"no-referrer")]
    if "cache-control" not in upstream.headers:
        out.append((b"cache-control", b"private"))
    return out


def _relocate(location: str, token: str, port: int) -> str:
    """A redirect inside the served site stays inside the proxy."""
    for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
        if location.startswith(origin + "/") or location == origin:
            location = location[len(origin):] or "/"
            break
    if location.startswith("/") and not location.startswith("//"):
        return f"/proxy/{token}{location}"
    return location


@router.api_route("/proxy/{token}", methods=_METHODS, include_in_schema=False)
async def proxy_root(token: str, request: Request) -> Response:
    query = request.url.query
    return RedirectResponse(f"/proxy/{token}/" + (f"?{query}" if query else ""), 307)


@router.api_route("/proxy/{token}/{rest:path}", methods=_METHODS, include_in_schema=False)
async def proxy(token: str, rest: str, request: Request) -> Response:
    cap = await asyncio.to_thread(_authorize, request, token)
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _DROP_REQUEST]
    has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
    client = httpx.AsyncClient(trust_env=False, timeout=httpx.Timeout(3600, connect=10),
                               transport=transport_into(_connector(request, cap.runtime_id)))
    upstream_req = client.build_request(
        request.method, _upstream_target(request, token, cap.port, "http"), headers=headers,
        content=request.stream() if has_body else None)
    try:
        upstream = await client.send(upstream_req, stream=True)
    except httpx.HTTPError:
        await client.aclose()
        raise DikteError(f"Port {cap.port} of the runtime did not answer.",
                         code="port_unreachable", status=502) from None
    except BaseException:  # the backend refused the port (nothing of the runtime listens)
        await client.aclose()
        raise

    async def close() -> None:
        await upstream.aclose()
        await client.aclose()

    response = StreamingResponse(upstream.aiter_raw(), status_code=upstream.status_code,
                                 background=BackgroundTask(close))
    # raw: upstream's body goes through as it came (compressed or not), with its own length
    response.raw_headers = _response_headers(upstream, token, cap.port)
    return response


@router.websocket("/proxy/{token}/{rest:path}")
async def proxy_socket(websocket: WebSocket, token: str, rest: str) -> None:
    """The same, for a WebSocket the served page opens (same capability, same checks)."""
    try:
        cap = await asyncio.to_thread(_authorize, websocket, token)
        connect = _connector(websocket, cap.runtime_id)
        sock = await connect(cap.port, 10.0)
    except DikteError:
        await websocket.close(code=1008)
        return
    except (OSError, TimeoutError):
        await websocket.close(code=1011)
        return
    target = _upstream_target(websocket, token, cap.port, "ws")
    offered = websocket.headers.get("sec-websocket-protocol", "").split(",")
    protocols = [p.strip() for p in offered  # never a Dikte token offered as a subprotocol
                 if p.strip() and not p.strip().startswith(TOKEN_PROTOCOL_PREFIX)]
    try:
        upstream = await ws_connect(target, subprotocols=protocols or None,  # type: ignore[arg-type]
                                    proxy=None, max_size=None, open_timeout=10, sock=sock)
    except (OSError, InvalidHandshake, InvalidURI, TimeoutError):
        sock.close()
        await websocket.close(code=1011)
        return
    await websocket.accept(subprotocol=upstream.subprotocol)

    async def to_upstream() -> None:
        while True:
            msg = await websocket.receive()
            if msg["type"] == "websocket.disconnect":
                return
            if msg.get("bytes") is not None:
                await upstream.send(msg["bytes"])
            elif msg.get("text") is not None:
                await upstream.send(msg["text"])

    async def to_browser() -> None:
        with contextlib.suppress(ConnectionClosed):
            async for data in upstream:
                if isinstance(data, bytes):
                    await websocket.send_bytes(data)
                else:
                    await websocket.send_text(data)

    tasks = [asyncio.create_task(to_upstream()), asyncio.create_task(to_browser())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await upstream.close()
        with contextlib.suppress(RuntimeError):
            await websocket.close()
