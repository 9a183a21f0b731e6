"""In a real browser, signed in as A: the page's own requests for B's things get nothing of B's.

B has a notebook (with a secret in its source and output), a drive file, a connected runtime with
a file in /content, and an upload in progress. A's page, signed in by cookie like any page,
fetches B's notebook, drive, session, runtime-file and upload paths and opens B's notebook
WebSocket; every answer is a refusal, and B's secret never shows in A's page.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support.server import Client, DikteServer, make_person

MARKER = f"B-SECRET-{uuid.uuid4().hex}"
NOTEBOOK = "Notebooks/b-secret.ipynb"
FILE = "data/b-secret.txt"
PASSWORD = "a password of "


@dataclass
class World:
    b: Client
    b_id: int
    runtime_id: str
    upload_id: str
    token_id: int


def person(server: DikteServer, admin: Client, name: str) -> tuple[int, Client]:
    return make_person(server, admin, name, password=PASSWORD + name)


@pytest.fixture(scope="module")
def world(server: DikteServer) -> Iterator[World]:
    admin = server.client()
    admin.call("POST", "/api/people", json={"name": "ada", "password": PASSWORD + "ada"})
    b_id, b = person(server, admin, "bea")
    (cell,) = b.new_notebook(NOTEBOOK, [f"open('/content/secret.txt', 'w').write({MARKER!r})\n"
                                        f"print({MARKER!r})"])
    (done,) = b.run_cells(NOTEBOOK, [cell])
    assert done["last_status"] == "ok", done
    b.call("PUT", f"/api/drive/files/{FILE}", content=MARKER.encode())
    up = b.post("/api/uploads", {"target": "drive", "path": "data/b-upload.bin", "size": 1000})
    b.call("PUT", f"/api/uploads/{up['upload_id']}", params={"offset": 0},
           content=MARKER.encode())
    (session,) = b.get("/api/sessions")
    (token,) = b.get("/api/tokens")
    yield World(b=b, b_id=b_id, runtime_id=session["runtime_id"], upload_id=up["upload_id"],
                token_id=token["id"])
    server.terminate_sessions()


@pytest.fixture
def ada(new_page: Callable[..., Page], server: DikteServer, world: World) -> Page:
    page = new_page()
    page.goto(server.url + "/signin")
    page.get_by_label("Name").fill("ada")
    page.get_by_label("Password").fill(PASSWORD + "ada")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("toolbar", name="Drive actions")).to_be_visible()
    return page


FETCH_ALL = """async (requests) => Promise.all(requests.map(async ([method, url, body]) => {
  const init = {method, credentials: "same-origin"};
  if (body !== null) {
    init.body = JSON.stringify(body);
    init.headers = {"Content-Type": "application/json"};
  }
  const r = await fetch(url, init);
  return {method, url, status: r.status, text: await r.text()};
}))"""

OPEN_SOCKET = """(path) => new Promise((resolve) => {
  const got = [];
  const ws = new WebSocket(`ws://${location.host}${path}`, ["dikte"]);
  ws.onmessage = (e) => got.push(String(e.data));
  ws.onclose = (e) => resolve({code: e.code, opened: got.length > 0, got: got.join("\\n")});
})"""


def requests_for_b(w: World) -> list[tuple[str, str, Any]]:
    nb = f"path={NOTEBOOK}"
    return [
        ("GET", f"/api/notebooks/view?{nb}", None),
        ("POST", "/api/notebooks/edit", {"path": NOTEBOOK, "ops": [{"op": "clear_outputs",
                                                                    "cell_id": "x"}]}),
        ("POST", "/api/notebooks/run", {"path": NOTEBOOK, "mode": "all"}),
        ("GET", f"/api/drive/files/{FILE}", None),
        ("GET", "/api/drive/list?path=data", None),
        ("DELETE", f"/api/drive/files/{FILE}", None),
        ("DELETE", f"/api/sessions/{w.runtime_id}", None),
        ("DELETE", f"/api/admin/sessions/{w.runtime_id}", None),
        ("GET", "/api/admin/sessions", None),
        ("GET", "/api/admin/usage", None),
        ("GET", f"/api/runtime/files?{nb}&dir=", None),
        ("GET", f"/api/runtime/files/download?{nb}&file=secret.txt", None),
        ("POST", "/api/runtime/files/delete", {"path": NOTEBOOK, "file": "secret.txt"}),
        ("GET", f"/api/uploads/{w.upload_id}", None),
        ("DELETE", f"/api/uploads/{w.upload_id}", None),
        ("DELETE", f"/api/tokens/{w.token_id}", None),
        ("GET", "/api/people", None),
        ("PATCH", f"/api/people/{w.b_id}", {"disabled": True}),
    ]


def b_is_intact(w: World) -> None:
    view = w.b.view(NOTEBOOK)
    (cell,) = view["notebook"]["cells"]
    assert MARKER in str(cell["outputs"])
    assert w.b.http.get(f"/api/drive/files/{FILE}").content == MARKER.encode()
    assert [s["runtime_id"] for s in w.b.get("/api/sessions")] == [w.runtime_id]
    assert w.b.get(f"/api/uploads/{w.upload_id}")["offset"] == len(MARKER)
    assert [t["id"] for t in w.b.get("/api/tokens")] == [w.token_id]
    assert not w.b.get("/api/me")["is_admin"]


def test_a_page_cannot_fetch_b_data(ada: Page, world: World) -> None:
    answers = ada.evaluate(FETCH_ALL, requests_for_b(world))
    for a in answers:
        assert MARKER not in a["text"], a
        # runtime files of a notebook A has no runtime for: 409 "Connect a runtime..."
        allowed = (403, 404, 409) if "/api/runtime/files" in a["url"] else (403, 404)
        assert a["status"] in allowed, a
    # A's own listings answer, with nothing of B's in them
    own = ada.evaluate(FETCH_ALL, [["GET", "/api/sessions", None], ["GET", "/api/tokens", None],
                                   ["GET", "/api/drive/list?path=", None]])
    for a in own:
        assert a["status"] == 200, a
        assert world.runtime_id not in a["text"] and "b-secret" not in a["text"], a
    b_is_intact(world)


def test_a_page_cannot_open_b_sockets(ada: Page, world: World) -> None:
    for path in (f"/api/notebooks/ws?path={NOTEBOOK}",
                 f"/api/runtime/terminal?path={NOTEBOOK}&cols=80&rows=24"):
        seen = ada.evaluate(OPEN_SOCKET, path)
        assert MARKER not in seen["got"], (path, seen)
        if seen["opened"]:  # the notebook socket opens only to say why, then closes
            assert [m["type"] for m in map(json.loads, filter(None, seen["got"].split("\n")))
                    ] == ["error"], (path, seen)
            assert seen["code"] == 4404, (path, seen)
        assert seen["code"] != 1000, (path, seen)  # refused, not a normal end
    b_is_intact(world)


def test_b_content_never_appears_in_a_page(ada: Page, server: DikteServer, world: World) -> None:
    ada.goto(f"{server.url}/#/notebook/{NOTEBOOK}")  # A's own drive has no such notebook
    expect(ada.get_by_text("b-secret", exact=False).first).to_be_visible()  # its name, no more
    ada.wait_for_load_state("networkidle")
    assert MARKER not in ada.content()
    for route in ("/#/drive/data", "/#/drive/Notebooks", "/#/drive", "/#/sessions", "/#/usage",
                  "/#/tokens"):
        ada.goto(server.url + route)
        expect(ada.locator("main, .drive-body").first).to_be_visible()
        expect(ada.locator('[aria-busy="true"]')).to_have_count(0)  # loaded, not still loading
        html = ada.content()
        assert MARKER not in html and "b-secret" not in html, route
    b_is_intact(world)
