"""Person B tries every route of the API on person A's things, and gets none of them.

Drives, notebooks, runtimes and uploads are per person by construction (every path resolves in
the caller's own drive, every id is looked up among the caller's own); these tests try anyway.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from websockets.exceptions import InvalidStatus, WebSocketException
from websockets.sync.client import connect

from dikte.app import create_app
from dikte.config import Settings
from tests.support.server import Client, DikteServer, make_person

MARKER = f"A-SECRET-{uuid.uuid4().hex}"
NOTEBOOK = "Notebooks/a-secret.ipynb"
FILE = "data/a-secret.txt"


@dataclass
class World:
    a: Client
    b: Client
    a_id: int
    a_cell: str
    runtime_id: str
    upload_id: str
    a_token_id: int


def _person(server: DikteServer, admin: Client, name: str) -> tuple[int, Client]:
    return make_person(server, admin, name)


@pytest.fixture(scope="module")
def world(server: DikteServer) -> Iterator[World]:
    admin = server.client()
    a_id, a = _person(server, admin, "alice")
    _, b = _person(server, admin, "bob")
    (cell,) = a.new_notebook(NOTEBOOK, [f"open('/content/secret.txt', 'w').write({MARKER!r})\n"
                                        f"print({MARKER!r})"])
    (done,) = a.run_cells(NOTEBOOK, [cell])
    assert done["last_status"] == "ok", done
    a.call("PUT", f"/api/drive/files/{FILE}", content=MARKER.encode())
    up = a.post("/api/uploads", {"target": "drive", "path": "data/a-upload.bin", "size": 1000})
    a.call("PUT", f"/api/uploads/{up['upload_id']}", params={"offset": 0},
           content=MARKER.encode())
    (session,) = a.get("/api/sessions")
    (token,) = a.get("/api/tokens")
    yield World(a=a, b=b, a_id=a_id, a_cell=cell, runtime_id=session["runtime_id"],
                upload_id=up["upload_id"], a_token_id=token["id"])
    server.terminate_sessions()


SPEC = create_app(Settings(unsafe_no_sandbox=True)).openapi()


def _routes() -> list[tuple[str, str]]:
    return [(m.upper(), p) for p, item in SPEC["paths"].items() for m in item]


# Routes that act on B's own space whatever B sends (create in B's drive, B's tokens), and every
# GET that takes no parameter (B's own listings: me, sessions, tokens, usage, ...): B may succeed
# there, but what comes back must never be A's. Everything else names A's things and must fail.
OWN_SPACE = {("POST", "/api/tokens"), ("GET", "/api/drive/list"),
             ("POST", "/api/drive/dirs"), ("PUT", "/api/drive/files/{path}"),
             ("POST", "/api/notebooks"), ("POST", "/api/uploads"), ("POST", "/api/auth/logout")}


def _own_space(method: str, route: str) -> bool:
    op = SPEC["paths"][route][method.lower()]
    return (method, route) in OWN_SPACE or (method == "GET" and not op.get("parameters"))


def _request(w: World, method: str, route: str) -> httpx.Response:
    url = (route.replace("{path}", FILE).replace("{runtime_id}", w.runtime_id)
           .replace("{upload_id}", w.upload_id).replace("{person_id}", str(w.a_id))
           .replace("{token_id}", str(w.a_token_id)))
    params = {"path": "data" if route == "/api/drive/list" else NOTEBOOK, "dir": "",
              "file": "secret.txt", "offset": "0", "overwrite": "true"}
    body: dict[str, Any] = {
        "path": NOTEBOOK, "src": FILE, "dst": "data/stolen.txt", "notebook": NOTEBOOK,
        "ops": [{"op": "set_source", "cell_id": w.a_cell, "source": "stolen"}],
        "cell_ids": [w.a_cell], "mode": "all", "value": "x", "target": "drive", "size": 10,
        "dir": "made-by-b", "file": "secret.txt", "name": "b-made", "scopes": ["read"],
        "tier": "pro_plus", "is_admin": True, "disabled": True, "password": "password-by-b"}
    raw = route in ("/api/drive/files/{path}", "/api/uploads/{upload_id}",
                    "/api/runtime/files/upload")
    return w.b.http.request(method, url, params=params, json=None if raw else body,
                            content=b"written by b" if raw else None)


def _a_is_intact(w: World) -> None:
    view = w.a.view(NOTEBOOK)
    (cell,) = view["notebook"]["cells"]
    assert MARKER in "".join(cell["source"]) and MARKER in str(cell["outputs"])
    assert w.a.http.get(f"/api/drive/files/{FILE}").content == MARKER.encode()
    assert [s["runtime_id"] for s in w.a.get("/api/sessions")] == [w.runtime_id]
    assert w.a.get(f"/api/uploads/{w.upload_id}")["offset"] == len(MARKER)
    me = w.a.get("/api/me")
    assert me["id"] == w.a_id and not me["is_admin"]
    assert [t["id"] for t in w.a.get("/api/tokens")] == [w.a_token_id]
    files = w.a.get("/api/runtime/files", params={"path": NOTEBOOK, "dir": ""})
    assert "secret.txt" in str(files)


def _empty_b(w: World) -> None:
    for s in w.b.get("/api/sessions"):
        w.b.call("DELETE", f"/api/sessions/{s['runtime_id']}")
    for entry in w.b.get("/api/drive/list", params={"path": ""})["entries"]:
        w.b.call("DELETE", f"/api/drive/files/{entry['path']}")


@pytest.mark.parametrize(("method", "route"), _routes())
def test_b_cannot_reach_a_through_any_route(world: World, method: str, route: str) -> None:
    try:
        r = _request(world, method, route)
        assert MARKER not in r.text, (method, route, r.text)
        assert r.status_code < 500, (method, route, r.text)
        if not _own_space(method, route):
            assert 400 <= r.status_code < 500, (method, route, r.status_code, r.text)
        _a_is_intact(world)
    finally:
        _empty_b(world)


def test_b_drive_listing_never_shows_a_files(world: World) -> None:
    for folder in ("", "data", "Notebooks"):
        r = world.b.http.get("/api/drive/list", params={"path": folder})
        assert "a-secret" not in r.text and MARKER not in r.text
    assert world.b.get("/api/sessions") == []


def test_b_cannot_terminate_a_session(world: World) -> None:
    r = world.b.http.delete(f"/api/sessions/{world.runtime_id}")
    assert r.status_code == 404
    _a_is_intact(world)


def _ws(world: World, path: str) -> str:
    url = world.b.url.replace("http://", "ws://") + path
    got: list[str] = []
    try:
        with connect(url, additional_headers={"Authorization": f"Bearer {world.b.token}"},
                     open_timeout=10) as ws:
            for _ in range(3):
                got.append(str(ws.recv(timeout=5)))
    except (InvalidStatus, WebSocketException, TimeoutError):
        pass
    return "".join(got)


def test_b_notebook_socket_on_a_path_is_b_own_missing_notebook(world: World) -> None:
    seen = _ws(world, f"/api/notebooks/ws?path={quote(NOTEBOOK)}")
    assert MARKER not in seen and world.a_cell not in seen
    _a_is_intact(world)


def test_b_terminal_on_a_path_reaches_no_runtime_of_a(world: World) -> None:
    seen = _ws(world, f"/api/runtime/terminal?path={quote(NOTEBOOK)}&cols=80&rows=24")
    assert MARKER not in seen and seen == ""
    _a_is_intact(world)
