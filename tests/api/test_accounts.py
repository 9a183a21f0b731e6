"""Accounts against a real server: passwords, web sessions, rate limits, tokens, scopes, roles."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from dikte.api.login_limits import LoginLimiter, keys_for, refusal
from dikte.db import Database
from dikte.db.models import PersonRow, SignInFailureRow, WebSessionRow
from dikte.db.sign_ins import Failures, SignInFailures
from dikte.errors import QuotaExceeded
from tests.support.server import Client, DikteServer

_names = itertools.count()


def db_of(server: DikteServer, **kw: object) -> Database:
    return Database(f"sqlite:///{server.data_dir / 'dikte.db'}", **kw)  # type: ignore[arg-type]


def new_person(client: Client, password: str | None = "correct horse",
               **fields: object) -> dict[str, Any]:
    body = {"name": f"person{next(_names)}", "password": password, **fields}
    return dict(client.call("POST", "/api/people", json=body))


def login(server: DikteServer, name: str, password: str) -> httpx.Response:
    return httpx.post(server.url + "/api/auth/login", json={"name": name, "password": password},
                      headers={"Origin": server.url})


def token_for(client: Client, person_name: str, *scopes: str, server: DikteServer) -> str:
    """A token for someone, made through the store (as `dikte user token` does)."""
    db = db_of(server)
    try:
        person = db.person_by_name(person_name)
        assert person is not None
        return db.issue_token(person.id, "test", scopes or ("read", "write"))[1]
    finally:
        db.close()


def test_passwords_are_stored_as_argon2id_hashes(server: DikteServer, client: Client) -> None:
    p = new_person(client)
    assert p["has_password"] and p["tier"] == "free" and not p["disabled"]
    db = db_of(server)
    try:
        with db.session() as s:
            stored = s.scalar(select(PersonRow.password_hash).where(PersonRow.id == p["id"]))
    finally:
        db.close()
    assert stored is not None and stored.startswith("$argon2id$")
    assert "correct horse" not in stored


def test_password_sign_in_starts_a_server_side_session(server: DikteServer,
                                                       client: Client) -> None:
    p = new_person(client)
    r = login(server, p["name"], "correct horse")
    assert r.status_code == 200 and r.json()["name"] == p["name"]
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http here; over HTTPS it is __Host- and Secure
    session_id = r.cookies["dikte_session"]
    assert not session_id.startswith("dk_")  # a session id, never an API token
    me = httpx.get(server.url + "/api/me", cookies={"dikte_session": session_id})
    assert me.status_code == 200 and me.json()["id"] == p["id"]
    db = db_of(server)
    try:  # stored hashed, with its person, times and expiry
        with db.session() as s:
            rows = s.scalars(select(WebSessionRow).where(WebSessionRow.person_id == p["id"])).all()
    finally:
        db.close()
    assert len(rows) == 1 and rows[0].session_hash != session_id
    assert rows[0].expires_at > rows[0].created_at and rows[0].last_seen >= rows[0].created_at


def test_the_console_is_quiet_by_default(server: DikteServer, client: Client) -> None:
    """Start-up says where Dikte serves and how to sign in; requests and the database
    migrations' own lines are not logged unless asked for (log_level, access_log)."""
    client.get("/api/me")
    text = server.log_text()
    assert "Dikte is serving at" in text
    assert "Use an access token instead" in text
    assert "/api/me" not in text
    assert "alembic" not in text and "Context impl" not in text
    assert "Uvicorn running" not in text and "Waiting for application startup" not in text


def test_the_printed_admin_token_still_signs_in(server: DikteServer) -> None:
    r = httpx.post(server.url + "/api/auth/login", json={"token": server.token},
                   headers={"Origin": server.url})
    assert r.status_code == 200 and r.json()["is_admin"]
    assert r.cookies["dikte_session"] != server.token


def test_wrong_password_and_unknown_name_are_refused_alike(server: DikteServer,
                                                         client: Client) -> None:
    p = new_person(client)
    wrong = login(server, p["name"], "not the password")
    unknown = login(server, "nobody-at-all", "correct horse")
    for r in (wrong, unknown):
        assert r.status_code == 401 and "set-cookie" not in r.headers
        assert r.json()["error"] == {"code": "bad_password", "status": 401,
                                     "message": "The name or password is not right."}
    assert login(server, p["name"], "correct horse").status_code == 200  # resets the count
    r = httpx.post(server.url + "/api/auth/login", json={"name": p["name"]},
                   headers={"Origin": server.url})
    assert r.status_code == 400


def _login_from(server: DikteServer, address: str, name: str, password: str,
                device: str | None = None) -> httpx.Response:
    """A sign-in from another loopback address (127.0.0.2 ...), with a known-device cookie."""
    with httpx.Client(transport=httpx.HTTPTransport(local_address=address),
                      cookies={"dikte_device": device} if device else None) as web:
        return web.post(server.url + "/api/auth/login",
                        json={"name": name, "password": password},
                        headers={"Origin": server.url})


def test_guessing_slows_the_guesser_and_never_locks_the_person_out(
        fresh_server: Callable[..., DikteServer]) -> None:
    server = fresh_server("--unsafe-no-sandbox").start()
    target = new_person(server.client())
    ok = _login_from(server, "127.0.0.1", target["name"], "correct horse")
    device = ok.cookies["dikte_device"]  # this browser signed in before
    assert ok.status_code == 200 and device
    # one guesser at one address: slowed down after five wrong passwords
    for _ in range(5):
        assert _login_from(server, "127.0.0.3", target["name"], "guess").status_code == 401
    r = _login_from(server, "127.0.0.3", target["name"], "correct horse")
    assert r.status_code == 429, r.text
    assert 0 < int(r.headers["Retry-After"]) <= 300
    err = r.json()["error"]
    assert err["code"] == "too_many_sign_ins" and err["message"].startswith(
        "Too many wrong passwords for this account from your address (5 in 5 minutes). "
        "Try again in"), err
    # the person: from another address, and from a browser that signed in before
    assert _login_from(server, "127.0.0.4", target["name"], "correct horse").status_code == 200
    assert _login_from(server, "127.0.0.3", target["name"], "correct horse",
                       device).status_code == 200
    # guesses spread over many addresses: browsers new to the account wait, the known one not
    for i in range(5, 10):  # 3 at each (under the pair's 5), 20 in all with the 5 above
        for _ in range(3):
            assert _login_from(server, f"127.0.0.{i}", target["name"], "x").status_code == 401
    r = _login_from(server, "127.0.0.20", target["name"], "correct horse")
    assert r.status_code == 429 and "browsers that have not signed in to it before" in \
        r.json()["error"]["message"] and "Sign in from a browser you used before" in r.text
    assert _login_from(server, "127.0.0.20", target["name"], "correct horse",
                       device).status_code == 200
    # a cookie of another account, or a forged one, is no known device
    other = new_person(server.client())
    theirs = _login_from(server, "127.0.0.1", other["name"], "correct horse").cookies[
        "dikte_device"]
    for fake in (theirs, device[:-2] + "00", "x.y", "nonsense"):
        r = _login_from(server, "127.0.0.20", target["name"], "correct horse", fake)
        assert r.status_code == 429, fake
    # and guessing with a known device's cookie is slowed down too
    for _ in range(5):
        assert _login_from(server, "127.0.0.21", target["name"], "g", device).status_code == 401
    r = _login_from(server, "127.0.0.21", target["name"], "correct horse", device)
    assert r.status_code == 429 and "from this browser" in r.text


def test_forwarded_headers_are_trusted_only_from_configured_proxies(
        fresh_server: Callable[..., DikteServer]) -> None:
    """Anything on the host's loopback (a runtime sharing the host's network, any local user)
    could otherwise name another address in X-Forwarded-For and guess on without end."""
    server = fresh_server("--unsafe-no-sandbox").start()
    target = new_person(server.client())
    for i in range(6):
        r = httpx.post(server.url + "/api/auth/login",
                       json={"name": target["name"], "password": "guess"},
                       headers={"Origin": server.url, "X-Forwarded-For": f"198.51.100.{i}"})
        assert r.status_code == (401 if i < 5 else 429), (i, r.text)
    # behind a proxy the administrator names, its X-Forwarded-For is the client's address
    proxied = fresh_server("--unsafe-no-sandbox", DIKTE_TRUSTED_PROXIES="127.0.0.1").start()
    target = new_person(proxied.client())
    for i in range(6):
        r = httpx.post(proxied.url + "/api/auth/login",
                       json={"name": target["name"], "password": "guess"},
                       headers={"Origin": proxied.url, "X-Forwarded-For": f"198.51.100.{i}"})
        assert r.status_code == 401, (i, r.text)


def test_the_login_limiter_counts_per_key_in_a_sliding_window(tmp_path: Path) -> None:
    now = [1_000_000.0]
    db = Database(f"sqlite:///{tmp_path / 'd.db'}", clock=lambda: now[0])
    db.migrate()
    try:
        limiter = LoginLimiter(SignInFailures(db.session, clock=db.clock),
                               {"pair": 5, "addr": 20, "name": 9, "device": 5}, 300)
        alice = keys_for("Alice", "a", None)
        assert alice == ["pair:alice@a", "addr:a", "name:alice"]
        for _ in range(4):
            limiter.failed(alice)
        limiter.check(alice)  # four are allowed
        limiter.succeeded(alice)  # a success resets the pair, not the address or the name
        for _ in range(5):
            limiter.check(alice)
            limiter.failed(alice)
            now[0] += 1
        with pytest.raises(QuotaExceeded) as refused:
            limiter.check(alice)
        assert refused.value.retry_after == 295 and "from your address" in refused.value.message
        with pytest.raises(QuotaExceeded) as refused:  # 9 for the name, from new browsers
            limiter.check(keys_for("alice", "c", None))
        assert "browsers that have not signed in" in refused.value.message
        limiter.check(keys_for("alice", "c", "cookie"))  # a known browser goes ahead
        limiter.check(keys_for("bob", "b", None))  # others are not affected
        # another process on the same database sees the same failures
        other = LoginLimiter(SignInFailures(db.session, clock=db.clock), {"pair": 5}, 300)
        with pytest.raises(QuotaExceeded):
            other.check(["pair:alice@a"])
        now[0] = 1_000_200.0
        with pytest.raises(QuotaExceeded) as refused:
            limiter.check(alice)
        assert refused.value.retry_after == 100
        now[0] = 1_000_300.5  # the first failure of the pair left the window: four remain
        limiter.check(keys_for("alice", "a", "cookie"))
        limiter.failed(keys_for("bob", "b", None))  # the rows past the window are gone
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(SignInFailureRow)) == 4 * 3 + 3
    finally:
        db.close()


@pytest.mark.parametrize(("failures", "now", "refused_after", "sentence"), [
    ({}, 0.0, None, ""),
    ({"pair:x@a": Failures(4, 0.0)}, 10.0, None, ""),
    ({"pair:x@a": Failures(5, 0.0)}, 10.0, 290,
     "Too many wrong passwords for this account from your address (5 in 5 minutes). "
     "Try again in 5 minutes."),
    ({"addr:y": Failures(19, 0.0)}, 10.0, None, ""),
    ({"addr:y": Failures(20, 100.0)}, 399.5, 1,  # never less than a second
     "Too many failed sign-ins from your address (20 in 5 minutes). Try again in 1 second."),
    ({"addr:y": Failures(20, 0.0), "pair:x@y": Failures(5, 50.0)}, 60.0, 240,  # the first key's
     "Too many failed sign-ins from your address (20 in 5 minutes). Try again in 4 minutes."),
    ({"name:x": Failures(20, 0.0)}, 250.0, 50,
     "Too many wrong passwords for this account from browsers that have not signed in to it "
     "before (20 in 5 minutes). Sign in from a browser you used before, or try again in 50 "
     "seconds."),
    ({"device:d": Failures(5, 0.0)}, 250.0, 50,
     "Too many wrong passwords from this browser (5 in 5 minutes). Try again in 50 seconds."),
])
def test_the_login_refusal_rule(failures: dict[str, Failures], now: float,
                                refused_after: int | None, sentence: str) -> None:
    refused = refusal(failures, now)
    if refused_after is None:
        assert refused is None
    else:
        assert refused is not None and refused.retry_after == refused_after
        assert refused.status == 429 and refused.code == "too_many_sign_ins"
        assert refused.message == sentence


def test_the_login_limit_survives_a_restart(fresh_server: Callable[..., DikteServer]) -> None:
    server = fresh_server("--unsafe-no-sandbox").start()
    target = new_person(server.client())
    for _ in range(5):
        assert login(server, target["name"], "guess").status_code == 401
    assert login(server, target["name"], "correct horse").status_code == 429
    server.stop()
    server.start()
    r = login(server, target["name"], "correct horse")
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_sign_ins"
    assert 0 < int(r.headers["Retry-After"]) <= 300


def test_servers_sharing_a_database_share_the_login_limit(
        fresh_server: Callable[..., DikteServer], postgres_db: str) -> None:
    """Two server processes on one PostgreSQL database: failures at one refuse at the other."""
    first = fresh_server("--unsafe-no-sandbox", DIKTE_DATABASE_URL=postgres_db).start()
    second = fresh_server("--unsafe-no-sandbox", DIKTE_DATABASE_URL=postgres_db).start()
    second.token = first.token  # the admin exists already: the second printed no token
    target = new_person(first.client())
    for i in range(5):
        assert login((first, second)[i % 2], target["name"], "guess").status_code == 401
    for server in (first, second):
        r = login(server, target["name"], "correct horse")
        assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_sign_ins"


def test_login_is_rate_limited_per_address(fresh_server: Callable[..., DikteServer]) -> None:
    server = fresh_server("--unsafe-no-sandbox").start()
    admin = server.client()
    p = new_person(admin)
    for i in range(10):
        assert login(server, f"guess{i}", "x-x-x-x-x").status_code == 401
    # signing in to an account of one's own does not reset the address's count
    assert login(server, p["name"], "correct horse").status_code == 200
    for i in range(10):
        assert login(server, f"other{i}", "x-x-x-x-x").status_code == 401
    r = httpx.post(server.url + "/api/auth/login", json={"token": "dk_guess"},
                   headers={"Origin": server.url})
    assert r.status_code == 429 and "from your address" in r.json()["error"]["message"]
    assert int(r.headers["Retry-After"]) > 0


def test_logout_revokes_the_session_on_the_server(server: DikteServer, client: Client) -> None:
    p = new_person(client)
    sid = login(server, p["name"], "correct horse").cookies["dikte_session"]
    jar = {"dikte_session": sid}
    r = httpx.post(server.url + "/api/auth/logout", cookies=jar, headers={"Origin": server.url})
    assert r.status_code == 204
    r = httpx.get(server.url + "/api/me", cookies=jar)  # the old cookie, replayed
    assert r.status_code == 401 and r.json()["error"]["code"] == "signed_out"


def test_disabling_revokes_sessions_and_tokens_at_once(server: DikteServer,
                                                      client: Client) -> None:
    p = new_person(client)
    sid = login(server, p["name"], "correct horse").cookies["dikte_session"]
    token = token_for(client, p["name"], server=server)
    assert server.client(token).get("/api/me")["id"] == p["id"]
    changed = client.call("PATCH", f"/api/people/{p['id']}", json={"disabled": True})
    assert changed["disabled"]
    assert httpx.get(server.url + "/api/me", cookies={"dikte_session": sid}).status_code == 401
    assert server.client(token).http.get("/api/me").status_code == 401
    assert login(server, p["name"], "correct horse").status_code == 401
    # enabling again does not bring the old credentials back
    client.call("PATCH", f"/api/people/{p['id']}", json={"disabled": False})
    assert server.client(token).http.get("/api/me").status_code == 401
    assert login(server, p["name"], "correct horse").status_code == 200


def test_tokens_are_listed_without_secrets_and_revocable(server: DikteServer,
                                                        client: Client) -> None:
    p = new_person(client)
    me = server.client(token_for(client, p["name"], server=server))
    issued = me.call("POST", "/api/tokens", json={"name": "laptop", "scopes": ["read"],
                                                 "expires_in_days": 30})
    secret = issued["token"]
    assert secret.startswith("dk_") and issued["scopes"] == ["read"]
    assert issued["expires_at"] == pytest.approx(time.time() + 30 * 86400, abs=120)
    listed = me.get("/api/tokens")
    assert {t["name"] for t in listed} == {"test", "laptop"}
    assert secret not in str(listed) and all("token" not in t for t in listed)
    assert server.client(secret).get("/api/me")["id"] == p["id"]
    assert me.http.delete(f"/api/tokens/{issued['id']}").status_code == 204
    assert server.client(secret).http.get("/api/me").status_code == 401
    # someone else's token id is not yours to revoke
    admin_tokens = client.get("/api/tokens")
    r = me.http.delete(f"/api/tokens/{admin_tokens[0]['id']}")
    assert r.status_code == 404
    assert client.get("/api/me")["is_admin"]  # the admin's token still works


def test_a_read_token_may_only_read(server: DikteServer, client: Client) -> None:
    p = new_person(client)
    reader = server.client(token_for(client, p["name"], "read", server=server))
    assert reader.get("/api/me")["id"] == p["id"]
    assert reader.http.get("/api/drive/list", params={"path": ""}).status_code == 200
    for method, path, body in (("POST", "/api/notebooks", {"path": "Notebooks/r.ipynb"}),
                               ("POST", "/api/tokens", {"name": "more", "scopes": ["write"]}),
                               ("PUT", "/api/drive/files/x.txt", None),
                               ("DELETE", "/api/tokens/1", None)):
        r = reader.http.request(method, path, json=body)
        assert r.status_code == 403, (method, path, r.text)
        err = r.json()["error"]
        assert err["code"] == "read_only"
        assert err["message"].startswith("This token may only read (scope read)")
    # and the notebook WebSocket (it can run code) is refused too
    with pytest.raises(Exception):  # noqa: B017 (the handshake is refused)
        reader.socket("Notebooks/r.ipynb").wait_for(lambda m: m["type"] == "snapshot", 5)


def test_tokens_never_exceed_what_created_them(server: DikteServer, client: Client) -> None:
    p = new_person(client)
    writer = server.client(token_for(client, p["name"], "write", server=server))
    r = writer.http.post("/api/tokens", json={"name": "x", "scopes": ["admin"]})
    assert r.status_code == 403 and "only administrators" in r.json()["error"]["message"]
    r = writer.http.post("/api/tokens", json={"name": "x", "scopes": ["superuser"]})
    assert r.status_code == 422  # not a scope at all
    admin_writer = server.client(client.call(
        "POST", "/api/tokens", json={"name": "w", "scopes": ["write"]})["token"])
    r = admin_writer.http.post("/api/tokens", json={"name": "x", "scopes": ["admin"]})
    assert r.status_code == 403 and r.json()["error"]["code"] == "scope_not_held"
    r = admin_writer.http.get("/api/people")  # an admin's write token is not an admin token
    assert r.status_code == 403 and r.json()["error"]["code"] == "missing_scope"
    assert client.get("/api/people")  # the first-start token has every scope


def test_expired_tokens_stop_working(server: DikteServer, client: Client) -> None:
    p = new_person(client)
    db = db_of(server)
    try:
        _, expired = db.issue_token(p["id"], "old", ("read", "write"), time.time() - 1)
        _, fresh = db.issue_token(p["id"], "new", ("read", "write"), time.time() + 3600)
    finally:
        db.close()
    r = server.client(expired).http.get("/api/me")
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]
    assert server.client(fresh).get("/api/me")["id"] == p["id"]


def test_expiry_follows_the_store_clock(tmp_path: Path) -> None:
    now = [1_000_000.0]
    db = Database(f"sqlite:///{tmp_path / 'd.db'}", clock=lambda: now[0])
    db.migrate()
    try:
        person = db.add_person("clocked")
        _, token = db.issue_token(person.id, "day", ("read",), now[0] + 86400)
        session = db.start_web_session(person.id, 3600)
        assert db.credential_for_token(token) is not None
        assert db.credential_for_session(session) is not None
        now[0] += 3601
        assert db.credential_for_session(session) is None
        assert db.credential_for_token(token) is not None
        now[0] += 86400
        assert db.credential_for_token(token) is None
    finally:
        db.close()


def test_people_api_is_for_administrators_only(server: DikteServer, client: Client) -> None:
    p = new_person(client)
    person = server.client(token_for(client, p["name"], "read", "write", server=server))
    for method, path, body in (("GET", "/api/people", None),
                               ("POST", "/api/people", {"name": "sneaky", "is_admin": True}),
                               ("PATCH", f"/api/people/{p['id']}", {"is_admin": True}),
                               ("PATCH", f"/api/people/{p['id']}", {"tier": "pro_plus"}),
                               ("PATCH", "/api/people/1", {"disabled": True})):
        r = person.http.request(method, path, json=body)
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["error"]["message"] == "Only an administrator may do this."
    assert person.http.post("/api/tokens", json={"name": "x", "scopes": ["admin"]}
                            ).status_code == 403
    people = {q["name"]: q for q in client.get("/api/people")}
    assert not people[p["name"]]["is_admin"] and "sneaky" not in people
    assert people[p["name"]]["tier"] == "free" and not people["admin"]["disabled"]


def test_an_admin_manages_people(server: DikteServer, client: Client) -> None:
    p = new_person(client, password=None, tier="pro")
    assert p["tier"] == "pro" and not p["has_password"]
    assert login(server, p["name"], "anything-at-all").status_code == 401
    changed = client.call("PATCH", f"/api/people/{p['id']}",
                          json={"tier": "pro_plus", "password": "a new password"})
    assert changed["tier"] == "pro_plus" and changed["has_password"]
    assert login(server, p["name"], "a new password").status_code == 200
    promoted = client.call("PATCH", f"/api/people/{p['id']}", json={"is_admin": True})
    assert promoted["is_admin"]
    r = client.http.post("/api/people", json={"name": p["name"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "name_taken"
    r = client.http.post("/api/people", json={"name": "../etc"})
    assert r.status_code == 400
    r = client.http.post("/api/people", json={"name": "shorty", "password": "short"})
    assert r.status_code == 400 and "8 characters" in r.json()["error"]["message"]
    r = client.http.patch("/api/people/99999", json={"tier": "pro"})
    assert r.status_code == 404
    me = client.get("/api/me")
    r = client.http.patch(f"/api/people/{me['id']}", json={"disabled": True})
    assert r.status_code == 409 and r.json()["error"]["code"] == "self_lockout"


def test_no_self_registration_endpoint(server: DikteServer) -> None:
    for path in ("/api/auth/register", "/api/auth/signup", "/api/people"):
        r = httpx.post(server.url + path, json={"name": "me", "password": "12345678"},
                       headers={"Origin": server.url})
        assert r.status_code in (401, 404, 405), path


CSRF_CASES = [("GET", "/api/me", None), ("POST", "/api/tokens", {"name": "csrf", "scopes": ["read"]}),
              ("PUT", "/api/drive/files/csrf.txt", None), ("PATCH", "/api/people/1", {}),
              ("DELETE", "/api/tokens/999999", None)]


@pytest.mark.parametrize("credential", ["cookie", "bearer"])
@pytest.mark.parametrize("origin", ["none", "evil", "same"])
@pytest.mark.parametrize(("method", "path", "body"), CSRF_CASES, ids=[c[0] for c in CSRF_CASES])
def test_csrf_matrix(server: DikteServer, method: str, path: str, body: object, origin: str,
                     credential: str) -> None:
    """A cookie changes state only with our Origin; a bearer token only without a foreign one."""
    headers = {"none": {}, "evil": {"Origin": "http://evil.example"},
               "same": {"Origin": server.url}}[origin]
    if credential == "cookie":
        r = httpx.post(server.url + "/api/auth/login", json={"token": server.token},
                       headers={"Origin": server.url})
        cookies, auth = {"dikte_session": r.cookies["dikte_session"]}, {}
    else:
        cookies, auth = {}, {"Authorization": f"Bearer {server.token}"}
    r = httpx.request(method, server.url + path, json=body, cookies=cookies,
                      headers={**headers, **auth}, content=None if body is not None else b"x")
    refused = method != "GET" and (origin == "evil" or (origin == "none" and credential == "cookie"))
    if refused:
        assert r.status_code == 403 and r.json()["error"]["code"] == "bad_origin", r.text
    else:
        assert r.status_code in (200, 201, 204, 404), (r.status_code, r.text)
        assert r.status_code == 404 or method != "DELETE"
