"""Signing in to the web app, and what its session cookie can and cannot do."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from playwright.sync_api import Page, expect

from tests.support.server import DikteServer


def test_a_wrong_token_is_refused_with_a_sentence(new_page: Callable[..., Page],
                                                  server: DikteServer) -> None:
    page = new_page()
    page.goto(server.url + "/")
    page.get_by_label("Access token").fill("dk_wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid")


def test_the_session_cookie_is_httponly_and_strict(page: Page, server: DikteServer) -> None:
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "dikte_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # scripts cannot read it
    me = page.evaluate("fetch('/api/me').then(r => r.json())")
    assert me["name"] == "admin"


def test_a_cookie_without_our_origin_cannot_change_anything(server: DikteServer) -> None:
    cookies = {"dikte_session": server.token}
    r = httpx.post(server.url + "/api/notebooks", json={"path": "Notebooks/csrf.ipynb"},
                   cookies=cookies)
    assert r.status_code == 403 and r.json()["error"]["code"] == "bad_origin"
    r = httpx.post(server.url + "/api/notebooks", json={"path": "Notebooks/csrf.ipynb"},
                   cookies=cookies, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    r = httpx.get(server.url + "/api/me", cookies=cookies)  # reading is fine
    assert r.status_code == 200
