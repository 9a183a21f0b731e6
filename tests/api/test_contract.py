"""API-wide contracts: authentication everywhere, one error shape, the checked-in OpenAPI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from dikte.app import create_app
from dikte.config import Settings
from tests.support.server import Client, DikteServer

ROOT = Path(__file__).resolve().parents[2]


def _routes() -> list[tuple[str, str]]:
    spec = create_app(Settings(unsafe_no_sandbox=True)).openapi()
    out = []
    for path, item in spec["paths"].items():
        for method in item:
            out.append((method.upper(), path.replace("{path}", "Notebooks/x.ipynb")
                        .replace("{runtime_id}", "abc")))
    return out


# sign-in and accepting an invitation are tested on their own (tests/api/test_accounts.py,
# tests/api/test_invitations.py)
PUBLIC = {"/api/health", "/api/auth/login", "/api/auth/logout", "/api/auth/invitation",
          "/api/auth/invitation/accept"}


@pytest.mark.parametrize(("method", "path"), [r for r in _routes() if r[1] not in PUBLIC])
def test_every_endpoint_requires_a_token(server: DikteServer, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer dk_wrong"}):
        r = httpx.request(method, server.url + path, headers=headers, json={})
        assert r.status_code == 401, (method, path, r.status_code)
        body = r.json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "status"}


def test_error_shape_on_every_kind_of_error(client: Client) -> None:
    cases = [
        client.http.get("/api/nothing-here"),                              # unknown route
        client.http.delete("/api/health"),                                 # wrong method
        client.http.post("/api/notebooks", json={"nope": 1}),              # invalid body
        client.http.get("/api/notebooks/view", params={"path": "Notebooks/missing.ipynb"}),
        client.http.get("/api/drive/files/..%2Fx"),                        # bad path
        client.http.post("/api/notebooks/connect",
                         json={"path": "Notebooks/missing.ipynb"}),
        client.http.delete("/api/sessions/nosuch"),
    ]
    for r in cases:
        assert r.status_code >= 400
        body = r.json()
        assert set(body) == {"error"}, body
        err = body["error"]
        assert err["status"] == r.status_code
        assert err["code"] and err["message"].endswith((".", ")")), err
        assert "Traceback" not in r.text


def test_cross_origin_requests_are_refused(server: DikteServer, client: Client) -> None:
    r = client.http.post("/api/notebooks", json={"path": "Notebooks/x.ipynb"},
                         headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "bad_origin"


def test_the_origin_must_match_in_scheme_host_and_port(server: DikteServer,
                                                       client: Client) -> None:
    """A page of another scheme (for example plain http beside an https site), of the same host
    on another port, or an opaque origin is another site."""
    host = server.url.split("://", 1)[1]
    name, port = host.rsplit(":", 1)
    for origin in (f"https://{host}", f"ws://{host}", f"http://{name}:{int(port) + 1}",
                   f"http://{name}", "null", f"http://{host}.evil.example", f"//{host}",
                   host):
        r = client.http.post("/api/notebooks", json={"path": "Notebooks/o.ipynb"},
                             headers={"Origin": origin})
        assert r.status_code == 403 and r.json()["error"]["code"] == "bad_origin", origin
    r = client.http.post("/api/notebooks", json={"path": "Notebooks/o.ipynb"},
                         headers={"Origin": server.url.upper().replace("HTTP://", "http://")})
    assert r.status_code == 201, r.text  # host names are case-insensitive
    # X-Forwarded-Proto counts only from a proxy the administrator named (trusted_proxies)
    r = client.http.post("/api/notebooks", json={"path": "Notebooks/p.ipynb"},
                         headers={"Origin": f"https://{host}", "X-Forwarded-Proto": "https"})
    assert r.status_code == 403, r.text


def test_behind_a_named_tls_proxy_https_is_our_origin(
        fresh_server: Callable[..., DikteServer]) -> None:
    server = fresh_server("--unsafe-no-sandbox", DIKTE_TRUSTED_PROXIES="127.0.0.1").start()
    host = server.url.split("://", 1)[1]
    client = server.client()
    r = client.http.post("/api/notebooks", json={"path": "Notebooks/p.ipynb"},
                         headers={"Origin": f"https://{host}", "X-Forwarded-Proto": "https"})
    assert r.status_code == 201, r.text
    r = client.http.post("/api/notebooks", json={"path": "Notebooks/q.ipynb"},
                         headers={"Origin": f"http://{host}", "X-Forwarded-Proto": "https"})
    assert r.status_code == 403, r.text


def test_sign_in_needs_a_valid_token_and_our_origin(server: DikteServer) -> None:
    origin = {"Origin": server.url}
    r = httpx.post(server.url + "/api/auth/login", json={"token": "dk_wrong"}, headers=origin)
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad_token"
    r = httpx.post(server.url + "/api/auth/login", json={"token": server.token})
    assert r.status_code == 403 and r.json()["error"]["code"] == "bad_origin"
    r = httpx.post(server.url + "/api/auth/login", json={"token": server.token}, headers=origin)
    assert r.status_code == 200 and "dikte_session" in r.cookies
    r = httpx.post(server.url + "/api/auth/logout", headers=origin)
    assert r.status_code == 204 and 'dikte_session=""' in r.headers["set-cookie"]


def test_openapi_document_is_current() -> None:
    checked_in = ROOT / "docs" / "openapi.json"
    current = create_app(Settings(unsafe_no_sandbox=True)).openapi()
    fix = "regenerate it with: .venv/bin/python -m dikte.api.openapi > docs/openapi.json"
    assert checked_in.exists(), fix
    assert json.loads(checked_in.read_text()) == current, fix
