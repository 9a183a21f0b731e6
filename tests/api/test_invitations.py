"""Invitations against a real server: invite, look up, accept (single use), refusals, revoke."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from dikte.db import Database
from dikte.db.invitations import Invitations
from dikte.db.models import InvitationRow
from tests.support.server import Client, DikteServer

_names = itertools.count()
DAY = 86400.0
PASSWORD = "a good long password"


def fresh_name() -> str:
    return f"invitee{next(_names)}"


def invite(admin: Client, **fields: Any) -> dict[str, Any]:
    return dict(admin.call("POST", "/api/invitations", json={"name": fresh_name(), **fields}))


def look_up(server: DikteServer, code: str) -> httpx.Response:
    return httpx.post(server.url + "/api/auth/invitation", json={"code": code},
                      headers={"Origin": server.url})


def accept(server: DikteServer, code: str, password: str = PASSWORD) -> httpx.Response:
    return httpx.post(server.url + "/api/auth/invitation/accept",
                      json={"code": code, "password": password}, headers={"Origin": server.url})


def db_of(server: DikteServer) -> Database:
    return Database(f"sqlite:///{server.data_dir / 'dikte.db'}")


def test_an_invitation_makes_a_person_who_is_signed_in_and_can_sign_in_again(
        server: DikteServer, client: Client) -> None:
    issued = invite(client, tier="pro")
    code = issued["code"]
    assert issued["link"] == f"{server.url}/invite#{code}"  # the code only in the fragment
    assert issued["status"] == "pending" and issued["tier"] == "pro" and not issued["is_admin"]
    assert issued["invited_by"] == "admin"
    assert issued["expires_at"] == pytest.approx(time.time() + 7 * DAY, abs=120)
    listed = {i["id"]: i for i in client.get("/api/invitations")}
    assert listed[issued["id"]]["status"] == "pending" and code not in str(listed)
    db = db_of(server)
    try:  # stored as a hash
        with db.session() as s:
            stored = s.scalar(select(InvitationRow.code_hash)
                              .where(InvitationRow.id == issued["id"]))
    finally:
        db.close()
    assert stored is not None and code not in stored and len(stored) == 64

    r = look_up(server, code)
    assert r.status_code == 200 and r.json() == {"name": issued["name"],
                                                 "expires_at": issued["expires_at"]}
    r = accept(server, code, "short")
    assert r.status_code == 400 and "8 characters" in r.json()["error"]["message"]
    r = accept(server, code)
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["name"] == issued["name"] and not me["is_admin"] and me["next"] == "/#/drive"
    cookie = r.cookies["dikte_session"]
    assert "HttpOnly" in r.headers["set-cookie"]
    r = httpx.get(server.url + "/api/me", cookies={"dikte_session": cookie})
    assert r.status_code == 200 and r.json()["name"] == issued["name"]
    r = httpx.post(server.url + "/api/auth/login", json={"name": issued["name"],
                                                         "password": PASSWORD},
                   headers={"Origin": server.url})
    assert r.status_code == 200
    (person,) = [p for p in client.get("/api/people") if p["name"] == issued["name"]]
    assert person["tier"] == "pro" and person["has_password"] and not person["is_admin"]
    used = {i["id"]: i for i in client.get("/api/invitations")}[issued["id"]]
    assert used["status"] == "used" and used["used_at"] is not None
    assert code not in server.log_text()  # nothing logged the code


def test_a_used_invitation_is_refused_with_a_sentence(server: DikteServer,
                                                      client: Client) -> None:
    code = invite(client)["code"]
    assert accept(server, code).status_code == 200
    for r in (look_up(server, code), accept(server, code, "another password")):
        assert r.status_code == 410
        assert r.json()["error"] == {
            "code": "invitation_used", "status": 410,
            "message": "This invitation was already used. Sign in with your name and password, "
                       "or ask your administrator for a new invitation."}


def test_only_one_of_two_racing_accepts_wins(server: DikteServer, client: Client) -> None:
    issued = invite(client)
    answers: list[httpx.Response] = []
    start = threading.Barrier(4)

    def race(password: str) -> None:
        start.wait()
        answers.append(accept(server, issued["code"], password))

    threads = [threading.Thread(target=race, args=(f"password number {i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in answers) == [200, 410, 410, 410]
    assert [p["name"] for p in client.get("/api/people")].count(issued["name"]) == 1


def test_an_expired_invitation_is_refused_with_its_date(server: DikteServer) -> None:
    db = db_of(server)
    try:  # made eight days ago, for seven days
        then = time.time() - 8 * DAY
        inv, code = Invitations(db.session, clock=lambda: then).invite(
            fresh_name(), tier="free", is_admin=False, invited_by=None, lifetime=7 * DAY)
    finally:
        db.close()
    for r in (look_up(server, code), accept(server, code)):
        assert r.status_code == 410
        err = r.json()["error"]
        assert err["code"] == "invitation_expired"
        assert err["message"].startswith("This invitation expired on ")
        assert err["message"].endswith(" UTC. Ask your administrator for a new one.")
    assert inv.name not in {p["name"] for p in server.client().get("/api/people")}


def test_a_revoked_invitation_is_refused_and_a_used_one_cannot_be_revoked(
        server: DikteServer, client: Client) -> None:
    issued = invite(client)
    revoked = client.call("DELETE", f"/api/invitations/{issued['id']}")
    assert revoked["status"] == "revoked" and revoked["revoked_at"] is not None
    for r in (look_up(server, issued["code"]), accept(server, issued["code"])):
        assert r.status_code == 410
        assert r.json()["error"]["message"] == ("This invitation was withdrawn by an "
                                                "administrator. Ask them for a new one.")
    used = invite(client)
    assert accept(server, used["code"]).status_code == 200
    r = client.http.delete(f"/api/invitations/{used['id']}")
    assert r.status_code == 409 and "disable" in r.json()["error"]["message"]
    r = client.http.delete("/api/invitations/999999")
    assert r.status_code == 404


def test_a_new_invitation_replaces_a_pending_one_for_the_same_name(
        server: DikteServer, client: Client) -> None:
    first = invite(client)
    second = client.call("POST", "/api/invitations", json={"name": first["name"]})
    assert look_up(server, first["code"]).json()["error"]["code"] == "invitation_revoked"
    assert look_up(server, second["code"]).status_code == 200
    assert accept(server, second["code"]).status_code == 200
    r = client.http.post("/api/invitations", json={"name": first["name"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "name_taken"


def test_an_invitation_needs_a_valid_name_tier_and_lifetime(client: Client) -> None:
    for body, status in (({"name": "../etc"}, 400), ({"name": fresh_name(), "tier": "gold"}, 400),
                         ({"name": fresh_name(), "expires_in_days": 31}, 422),
                         ({"name": fresh_name(), "expires_in_days": 0}, 422)):
        r = client.http.post("/api/invitations", json=body)
        assert r.status_code == status, (body, r.text)
    r = client.http.post("/api/invitations", json={"name": fresh_name(), "tier": "gold"})
    assert "There is no tier 'gold'" in r.json()["error"]["message"]
    issued = client.call("POST", "/api/invitations", json={"name": fresh_name(), "is_admin": True,
                                                           "expires_in_days": 1})
    assert issued["is_admin"] and issued["tier"] == "free"  # the default tier
    assert issued["expires_at"] - issued["created_at"] == pytest.approx(DAY)


def test_unknown_codes_and_foreign_origins_are_refused(server: DikteServer,
                                                       client: Client) -> None:
    for code in ("made-up", "x" * 200, invite(client)["code"] + "x"):
        r = look_up(server, code)
        assert r.status_code == 404 and r.json()["error"]["code"] == "no_invitation"
        assert "not valid" in r.json()["error"]["message"]
        assert accept(server, code).status_code == 404
    code = invite(client)["code"]
    r = httpx.post(server.url + "/api/auth/invitation/accept",
                   json={"code": code, "password": PASSWORD})  # no Origin: not from our page
    assert r.status_code == 403 and r.json()["error"]["code"] == "bad_origin"
    r = httpx.post(server.url + "/api/auth/invitation/accept",
                   json={"code": code, "password": PASSWORD},
                   headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    assert look_up(server, code).status_code == 200  # still pending


def test_only_administrators_invite(server: DikteServer, client: Client) -> None:
    person = client.call("POST", "/api/people", json={"name": fresh_name(), "password": PASSWORD})
    with httpx.Client(base_url=server.url, headers={"Origin": server.url}) as web:
        web.post("/api/auth/login", json={"name": person["name"], "password": PASSWORD})
        token = web.post("/api/tokens", json={"name": "t", "scopes": ["write"]}).json()["token"]
        pending = invite(client)
        for http in (web, server.client(token).http):
            for method, path, body in (("GET", "/api/invitations", None),
                                       ("POST", "/api/invitations", {"name": fresh_name()}),
                                       ("DELETE", f"/api/invitations/{pending['id']}", None)):
                r = http.request(method, path, json=body)
                assert r.status_code == 403, (method, path, r.text)
                assert r.json()["error"]["message"] == "Only an administrator may do this."
    assert look_up(server, pending["code"]).status_code == 200
