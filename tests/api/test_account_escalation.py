"""Tries at more than one was given: making someone admin, widening a token, outliving a sign-out.

Complements tests/api/test_accounts.py (which covers the people API's admin check, read tokens,
token creation's scope check, logout and disable) with the roads around them: invitations, web
sessions signed in with a token, a demoted administrator's old credentials, and open WebSockets.
"""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from dikte.db import Database
from tests.support.server import Client, DikteServer

_names = itertools.count()
PASSWORD = "correct horse"


def new_person(admin: Client, **fields: Any) -> dict[str, Any]:
    body = {"name": f"climber{next(_names)}", "password": PASSWORD, **fields}
    return dict(admin.call("POST", "/api/people", json=body))


def browser(server: DikteServer, name: str | None = None, *,
            token: str | None = None) -> httpx.Client:
    """A client like the web app: signed in by cookie, sending our Origin."""
    web = httpx.Client(base_url=server.url, headers={"Origin": server.url})
    body = {"token": token} if token else {"name": name, "password": PASSWORD}
    r = web.post("/api/auth/login", json=body)
    assert r.status_code == 200, r.text
    return web


def token_of(server: DikteServer, person_id: int, *scopes: str) -> str:
    db = Database(f"sqlite:///{server.data_dir / 'dikte.db'}")
    try:
        return db.issue_token(person_id, "test", scopes)[1]
    finally:
        db.close()


def admins(admin: Client) -> set[str]:
    return {p["name"] for p in admin.get("/api/people") if p["is_admin"]}


def escalations(target_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("PATCH", f"/api/people/{target_id}", {"is_admin": True}),
        ("POST", "/api/people", {"name": f"sneaky{next(_names)}", "password": PASSWORD,
                                 "is_admin": True}),
        ("POST", "/api/invitations", {"name": f"sneaky{next(_names)}", "is_admin": True}),
        ("POST", "/api/tokens", {"name": "up", "scopes": ["admin"]}),
        ("GET", "/api/invitations", {}),
    ]


def test_a_person_cannot_make_anyone_admin_by_token_or_cookie(server: DikteServer,
                                                             client: Client) -> None:
    before = admins(client)
    invitations_before = client.get("/api/invitations")
    me = new_person(client)
    other = new_person(client)
    by_token = server.client(token_of(server, me["id"], "read", "write", "admin"))
    by_cookie = browser(server, me["name"])
    for http in (by_token.http, by_cookie):
        for target in (me["id"], other["id"]):
            for method, path, body in escalations(target):
                r = http.request(method, path, json=body or None)
                assert r.status_code == 403, (method, path, r.text)
    by_cookie.close()
    assert admins(client) == before
    assert client.get("/api/invitations") == invitations_before
    assert "up" not in {t["name"] for t in by_token.get("/api/tokens")}


def test_a_demoted_administrator_keeps_no_admin_power(server: DikteServer,
                                                      client: Client) -> None:
    p = new_person(client, is_admin=True)
    web = browser(server, p["name"])
    r = web.post("/api/tokens", json={"name": "while admin", "scopes": ["admin"]})
    assert r.status_code == 201
    old_admin_token = server.client(r.json()["token"])
    assert old_admin_token.get("/api/people")  # works while they are an administrator
    target = new_person(client)
    client.call("PATCH", f"/api/people/{p['id']}", json={"is_admin": False})
    for http in (old_admin_token.http, web):
        tries = [*escalations(target["id"]), ("PATCH", f"/api/people/{p['id']}", {"is_admin": True})]
        for method, path, body in tries:
            r = http.request(method, path, json=body or None)
            assert r.status_code == 403, (method, path, r.text)
        assert http.get("/api/me").json()["is_admin"] is False
    web.close()
    assert p["name"] not in admins(client) and target["name"] not in admins(client)


def test_a_web_session_keeps_the_scopes_of_the_token_it_signed_in_with(
        server: DikteServer, client: Client) -> None:
    p = new_person(client)
    reader = browser(server, token=token_of(server, p["id"], "read"))
    assert reader.get("/api/me").json()["id"] == p["id"]
    for method, path, body in (("POST", "/api/tokens", {"name": "w", "scopes": ["write"]}),
                               ("POST", "/api/tokens", {"name": "r", "scopes": ["read"]}),
                               ("POST", "/api/notebooks", {"path": "Notebooks/x.ipynb"})):
        r = reader.request(method, path, json=body)
        assert r.status_code == 403 and r.json()["error"]["code"] == "read_only", r.text
    reader.close()
    # an administrator's write token signs in to a session without the admin scope
    writer = browser(server, token=client.call("POST", "/api/tokens",
                                               json={"name": "w", "scopes": ["write"]})["token"])
    assert writer.get("/api/me").json()["is_admin"]
    r = writer.get("/api/people")
    assert r.status_code == 403 and r.json()["error"]["code"] == "missing_scope"
    r = writer.post("/api/tokens", json={"name": "a", "scopes": ["admin"]})
    assert r.status_code == 403 and r.json()["error"]["code"] == "scope_not_held"
    r = writer.post("/api/invitations", json={"name": f"x{next(_names)}"})
    assert r.status_code == 403
    writer.close()


def socket(server: DikteServer, cookie: str, path: str) -> ClientConnection:
    url = server.url.replace("http://", "ws://") + f"/api/notebooks/ws?path={quote(path)}"
    return connect(url, additional_headers={"Cookie": f"dikte_session={cookie}",
                                            "Origin": server.url},
                   subprotocols=[Subprotocol("dikte")], open_timeout=20)


def closes(ws: ClientConnection) -> int | None:
    """Read until the server closes the socket; its close code."""
    try:
        while True:
            ws.recv(timeout=60)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


def test_logout_ends_only_this_browser_and_its_cookie_opens_no_socket(
        server: DikteServer, client: Client) -> None:
    p = new_person(client)
    laptop, phone = browser(server, p["name"]), browser(server, p["name"])
    phone.post("/api/notebooks", json={"path": "Notebooks/mine.ipynb"}).raise_for_status()
    cookie = laptop.cookies["dikte_session"]
    assert laptop.post("/api/auth/logout").status_code == 204
    assert httpx.get(server.url + "/api/me", cookies={"dikte_session": cookie}).status_code == 401
    assert phone.get("/api/me").status_code == 200  # another browser stays signed in
    with pytest.raises(InvalidStatus) as refused:  # the handshake is refused: signed out
        socket(server, cookie, "Notebooks/mine.ipynb")
    assert refused.value.response.status_code == 403
    with socket(server, phone.cookies["dikte_session"], "Notebooks/mine.ipynb") as ws:
        assert '"snapshot"' in str(ws.recv(timeout=60))
    laptop.close()
    phone.close()


def test_disabling_closes_the_persons_open_sockets(server: DikteServer, client: Client) -> None:
    p = new_person(client)
    web = browser(server, p["name"])
    web.post("/api/notebooks", json={"path": "Notebooks/open.ipynb"}).raise_for_status()
    cookie = web.cookies["dikte_session"]
    with socket(server, cookie, "Notebooks/open.ipynb") as ws:
        assert '"snapshot"' in str(ws.recv(timeout=60))
        client.call("PATCH", f"/api/people/{p['id']}", json={"disabled": True})
        closes(ws)  # returns once the server has closed it
    with pytest.raises(InvalidStatus):
        socket(server, cookie, "Notebooks/open.ipynb")
    web.close()


def test_signing_out_or_revoking_a_token_closes_the_sockets_it_opened(
        server: DikteServer, client: Client) -> None:
    p = new_person(client)
    laptop, phone = browser(server, p["name"]), browser(server, p["name"])
    path = "Notebooks/watched.ipynb"
    phone.post("/api/notebooks", json={"path": path}).raise_for_status()
    token = phone.post("/api/tokens", json={"name": "script", "scopes": ["write"]}).json()
    url = server.url.replace("http://", "ws://") + f"/api/notebooks/ws?path={quote(path)}"
    with socket(server, laptop.cookies["dikte_session"], path) as signed_out, \
            socket(server, phone.cookies["dikte_session"], path) as stays, \
            connect(url, additional_headers={"Authorization": f"Bearer {token['token']}"},
                    open_timeout=20) as scripted:
        for ws in (signed_out, stays, scripted):
            assert '"snapshot"' in str(ws.recv(timeout=60))
        assert laptop.post("/api/auth/logout").status_code == 204
        closes(signed_out)  # returns once the server has closed it
        assert phone.delete(f"/api/tokens/{token['id']}").status_code == 204
        closes(scripted)
        # the phone's own sign-in is untouched: its socket still gets the notebook's changes
        phone.post("/api/notebooks/edit", json={"path": path, "ops": [
            {"op": "insert", "source": "print(1)"}]}).raise_for_status()
        assert "print(1)" in str(stays.recv(timeout=60))
    laptop.close()
    phone.close()
