"""The port proxy (``google.colab.output.serve_kernel_port_as_iframe``) against a real server and
a real web server started by a cell in a real runtime.

Proxied content arrives sandboxed (CSP ``sandbox`` without ``allow-same-origin``) and without
the app's credentials; only the owner gets a capability, an expired or forged one is refused,
and only a port the runtime asked for, and listens on itself, is reached.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from dikte.bridge.port_proxy import Capability, sign
from dikte.keys import derive_key
from dikte.runtimes import netns
from tests.support.server import Client, DikteServer, cell_text, make_person

MARK = f"served-{uuid.uuid4().hex}"
NB = "Notebooks/port-proxy.ipynb"
PORT_MIME = "application/vnd.dikte.port-proxy+json"

SERVER_CELL = f"""
import http.server, json, threading
class Handler(http.server.BaseHTTPRequestHandler):
    def _send(self, status, body, ctype, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", "dikte_session=tossed-by-the-app; Path=/")
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.path.startswith("/headers"):
            self._send(200, json.dumps(dict(self.headers.items())).encode(), "application/json")
        elif self.path.startswith("/redirect"):
            self._send(302, b"", "text/plain", [("Location", "/landing")])
        else:
            page = "<!doctype html><h1>{MARK}</h1><p id=path>" + self.path + "</p>"
            self._send(200, page.encode(), "text/html; charset=utf-8")
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._send(200, b"got " + body, "text/plain")
    def log_message(self, *args):
        pass
httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=httpd.serve_forever, daemon=True).start()
from google.colab import output
output.serve_kernel_port_as_iframe(httpd.server_address[1], path="/hello?x=1", height=300)
"""

WS_CELL = """
import asyncio, threading
from websockets.asyncio.server import serve
async def echo(ws):
    async for message in ws:
        await ws.send("echo:" + message)
def main():
    async def run():
        async with serve(echo, "127.0.0.1", 0) as server:
            ports.append(server.sockets[0].getsockname()[1])
            ready.set()
            await asyncio.Future()
    asyncio.run(run())
ports, ready = [], threading.Event()
threading.Thread(target=main, daemon=True).start()
ready.wait(10)
from google.colab import output
output.serve_kernel_port_as_window(ports[0], anchor_text="the echo")
"""


@dataclass
class World:
    server: DikteServer
    a: Client
    b: Client
    a_id: int
    runtime_id: str
    port: int


def _person(server: DikteServer, admin: Client, name: str) -> tuple[int, Client]:
    return make_person(server, admin, name)


def _run(client: Client, source: str) -> tuple[str, dict[str, Any]]:
    """Run a new cell of NB; its status and the cell."""
    (cid,) = client.post("/api/notebooks/edit", {"path": NB, "ops": [
        {"op": "insert", "source": source}]})["inserted"]
    (state,) = client.run_cells(NB, [cid])
    (cell,) = [c for c in client.view(NB)["notebook"]["cells"] if c["id"] == cid]
    return state["last_status"], cell


def _port_output(cell: dict[str, Any]) -> dict[str, Any]:
    (spec,) = [o["data"][PORT_MIME] for o in cell["outputs"] if PORT_MIME in o.get("data", {})]
    return dict(spec)


@pytest.fixture(scope="module")
def world(server: DikteServer) -> Iterator[World]:
    admin = server.client()
    a_id, a = _person(server, admin, "proxy-alice")
    _, b = _person(server, admin, "proxy-bob")
    a.post("/api/notebooks", {"path": NB})
    status, cell = _run(a, SERVER_CELL)
    assert status == "ok", cell["outputs"]
    spec = _port_output(cell)
    assert spec["path"] == "/hello?x=1" and spec["mode"] == "iframe" and spec["height"] == "300"
    yield World(server=server, a=a, b=b, a_id=a_id, runtime_id=spec["runtime_id"],
                port=spec["port"])
    server.terminate_sessions()


def _mint(client: Client, w: World, port: int | None = None, path: str = "/") -> httpx.Response:
    return client.http.post("/api/runtime/proxy", json={
        "runtime_id": w.runtime_id, "port": port or w.port, "path": path})


def _url(w: World, path: str = "/") -> str:
    r = _mint(w.a, w, path=path)
    assert r.status_code == 200, r.text
    assert r.json()["expires_at"] > time.time()
    return w.server.url + str(r.json()["url"])


def test_proxied_content_arrives_sandboxed(world: World) -> None:
    r = httpx.get(_url(world, "/hello?x=1"))  # no credential at all, as a sandboxed frame's
    assert r.status_code == 200 and MARK in r.text and "/hello?x=1" in r.text
    csp = r.headers["content-security-policy"]
    assert csp.startswith("sandbox ") and "allow-scripts" in csp
    assert "allow-same-origin" not in csp and "frame-ancestors 'self'" in csp
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "set-cookie" not in r.headers  # the app may not set cookies on Dikte's origin
    assert r.headers["content-type"].startswith("text/html")


def test_the_app_credentials_are_not_forwarded(world: World) -> None:
    url = _url(world, "/headers")
    with httpx.Client(headers={"Origin": world.server.url}) as web:
        login = web.post(world.server.url + "/api/auth/login", json={"token": world.a.token})
        assert login.status_code == 200 and web.cookies.get("dikte_session")
        r = web.get(url, headers={"Authorization": f"Bearer {world.a.token}",
                                  "X-Kept": "yes"})
    assert r.status_code == 200, r.text
    seen = {k.lower(): v for k, v in r.json().items()}
    assert "cookie" not in seen and "authorization" not in seen and "referer" not in seen
    assert seen["x-kept"] == "yes" and seen["host"] == f"127.0.0.1:{world.port}"
    r = httpx.post(_url(world, "/echo"), content=b"posted body")
    assert r.text == "got posted body"


def test_a_redirect_stays_inside_the_proxy(world: World) -> None:
    url = _url(world, "/redirect")
    r = httpx.get(url)
    prefix = url[len(world.server.url):].removesuffix("/redirect")
    assert r.status_code == 302 and r.headers["location"] == f"{prefix}/landing"
    r = httpx.get(url.removesuffix("/redirect"))  # /proxy/<capability>: on to the site's root
    assert r.status_code == 307 and r.headers["location"].endswith(prefix + "/")


def test_another_person_can_neither_mint_nor_use_a_capability(world: World) -> None:
    r = _mint(world.b, world)
    assert r.status_code == 404 and MARK not in r.text
    url = _url(world)
    r = httpx.get(url, headers={"Authorization": f"Bearer {world.b.token}"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_yours"
    assert MARK not in r.text
    with httpx.Client(headers={"Origin": world.server.url}) as web:  # B's browser session
        assert web.post(world.server.url + "/api/auth/login",
                        json={"token": world.b.token}).status_code == 200
        r = web.get(url)
    assert r.status_code == 403 and MARK not in r.text
    # the owner's own credential is fine
    r = httpx.get(url, headers={"Authorization": f"Bearer {world.a.token}"})
    assert r.status_code == 200 and MARK in r.text


def test_expired_and_forged_capabilities_are_refused(world: World) -> None:
    key = derive_key(world.server.data_dir, "port-proxy")
    base = world.server.url + "/proxy/"

    def cap(**kw: Any) -> str:
        fields = {"runtime_id": world.runtime_id, "port": world.port, "person_id": world.a_id,
                  "expires_at": int(time.time()) + 600, **kw}
        return sign(key, Capability(**fields))

    assert httpx.get(base + cap() + "/").status_code == 200  # the test signs as the server does
    r = httpx.get(base + cap(expires_at=int(time.time()) - 1) + "/")
    assert r.status_code == 403 and "expired" in r.json()["error"]["message"]
    assert MARK not in r.text
    good = cap()
    for forged in (good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
                   good.replace(f".{world.port}.", f".{world.port + 1}."),
                   sign(derive_key(world.server.data_dir, "secrets"),
                        Capability(world.runtime_id, world.port, world.a_id, 2**31)),
                   "nonsense", "a.b.c.d.e"):
        r = httpx.get(base + forged + "/")
        assert r.status_code == 403 and r.json()["error"]["code"] == "bad_capability", forged
    # signed, but for someone else's person id or a port the runtime never asked for
    r = httpx.get(base + cap(person_id=world.a_id + 1000) + "/")
    assert r.status_code == 404 and MARK not in r.text
    r = httpx.get(base + cap(port=world.port + 1 if world.port < 65535 else 2000) + "/")
    assert r.status_code == 404 and r.json()["error"]["code"] == "port_not_served"


def test_only_ports_the_runtime_asked_for_and_listens_on(world: World) -> None:
    a = world.a
    with socket.socket() as other:  # a port someone else (this test, not the runtime) serves
        other.bind(("127.0.0.1", 0))
        other.listen()
        foreign = other.getsockname()[1]
        r = _mint(a, world, port=foreign)
        assert r.status_code == 409 and r.json()["error"]["code"] == "port_not_served"
        status, cell = _run(a, "from google.colab import output\n"
                               f"output.serve_kernel_port_as_iframe({foreign})")
        assert status == "ok"
        r = httpx.get(_url_for(world, foreign))
        if netns.isolated("isolated"):  # the runtime's own network: the host's port is not there
            assert r.status_code == 502 and r.json()["error"]["code"] == "port_closed", r.text
        else:
            assert r.status_code == 403 and r.json()["error"]["code"] == "not_runtime_port"
    own = int(world.server.url.rsplit(":", 1)[1])
    status, cell = _run(a, "from google.colab import output\n"
                           f"output.serve_kernel_port_as_iframe({own})")
    if netns.isolated("isolated"):  # Dikte's port number in the runtime's own network is its own
        assert status == "ok", cell
        assert _mint(a, world, port=own).status_code == 200
    else:
        assert status == "error" and "Dikte's own port" in json.dumps(cell["outputs"])
    status, cell = _run(a, "from google.colab import output\n"
                           "output.serve_kernel_port_as_iframe(80)")
    assert status == "error" and "1025 to 65535" in json.dumps(cell["outputs"])
    if not netns.isolated("isolated"):
        r = _mint(a, world, port=own)
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_port"
    r = a.http.post("/api/runtime/proxy", json={"runtime_id": "nosuchruntime", "port": 8000})
    assert r.status_code == 404


def _url_for(world: World, port: int) -> str:
    r = _mint(world.a, world, port=port)
    assert r.status_code == 200, r.text
    return world.server.url + str(r.json()["url"])


def test_websockets_are_proxied_with_the_same_capability(world: World) -> None:
    status, cell = _run(world.a, WS_CELL)
    assert status == "ok", cell_text(world.a.view(NB), cell["id"])
    spec = _port_output(cell)
    assert spec["mode"] == "window" and spec["anchor_text"] == "the echo"
    url = _url_for(world, spec["port"]).replace("http://", "ws://")
    with connect(url, open_timeout=10) as ws:
        ws.send("hello")
        assert ws.recv(timeout=10) == "echo:hello"
    key = derive_key(world.server.data_dir, "port-proxy")
    expired = sign(key, Capability(world.runtime_id, spec["port"], world.a_id, 1))
    with pytest.raises(InvalidStatus) as refused:  # closed before the handshake completes
        connect(f"{world.server.url.replace('http://', 'ws://')}/proxy/{expired}/",
                open_timeout=10)
    assert refused.value.response.status_code == 403
