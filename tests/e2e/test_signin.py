"""Signing in to the web app, and what its session cookie can and cannot do."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import sign_in
from tests.support.server import DikteServer


@pytest.fixture(scope="module")
def person(server: DikteServer) -> dict[str, str]:
    admin = server.client()
    admin.call("POST", "/api/people", json={"name": "grace", "password": "grace's password"})
    return {"name": "grace", "password": "grace's password"}


def test_password_sign_in(new_page: Callable[..., Page], server: DikteServer,
                          person: dict[str, str]) -> None:
    page = new_page()
    page.goto(server.url + "/")
    page.get_by_label("Name").fill(person["name"])
    page.get_by_label("Password").fill(person["password"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Password")).to_have_count(0)
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "dikte_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    assert not cookie["secure"]  # plain http; over HTTPS it is __Host-dikte_session, Secure
    assert page.evaluate("document.cookie") == ""  # scripts cannot read it
    me = page.evaluate("fetch('/api/me').then(r => r.json())")
    assert me["name"] == "grace"


def test_a_wrong_password_is_refused_with_the_server_sentence(
        new_page: Callable[..., Page], server: DikteServer, person: dict[str, str]) -> None:
    page = new_page()
    page.goto(server.url + "/")
    page.get_by_label("Name").fill(person["name"])
    page.get_by_label("Password").fill("not it at all")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("The name or password is not right.")
    # then a correct sign-in (which also resets the failure count for the later tests)
    page.get_by_label("Password").fill(person["password"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Password")).to_have_count(0)


def test_a_wrong_token_is_refused_with_a_sentence(new_page: Callable[..., Page],
                                                  server: DikteServer) -> None:
    page = new_page()
    page.goto(server.url + "/")
    page.get_by_role("button", name="Use an access token instead").click()
    page.get_by_label("Access token").fill("dk_wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid")


def test_the_token_session_cookie_is_httponly_and_lax(new_page: Callable[..., Page],
                                                      server: DikteServer) -> None:
    page = new_page()
    sign_in(page, server)  # through the page's own form
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "dikte_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert cookie["value"] != server.token  # a server-side session id, never the token
    assert page.evaluate("document.cookie") == ""
    me = page.evaluate("fetch('/api/me').then(r => r.json())")
    assert me["name"] == "admin"


def test_a_cookie_without_our_origin_cannot_change_anything(page: Page,
                                                            server: DikteServer) -> None:
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "dikte_session"]
    cookies = {"dikte_session": cookie["value"]}
    r = httpx.post(server.url + "/api/notebooks", json={"path": "Notebooks/csrf.ipynb"},
                   cookies=cookies)
    assert r.status_code == 403 and r.json()["error"]["code"] == "bad_origin"
    r = httpx.post(server.url + "/api/notebooks", json={"path": "Notebooks/csrf.ipynb"},
                   cookies=cookies, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    r = httpx.get(server.url + "/api/me", cookies=cookies)  # reading is fine
    assert r.status_code == 200
    # the token itself in the cookie is no session
    r = httpx.get(server.url + "/api/me", cookies={"dikte_session": server.token})
    assert r.status_code == 401


# last in the module: it leaves "mallory" at this address waiting for five minutes
def test_rate_limit_sentence_is_shown(new_page: Callable[..., Page], server: DikteServer) -> None:
    page = new_page()
    page.goto(server.url + "/")
    page.get_by_label("Name").fill("mallory")
    for _ in range(6):
        page.get_by_label("Password").fill("guess guess")
        with page.expect_response(lambda r: "/api/auth/login" in r.url):
            page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Too many wrong passwords for this account from your address")
    expect(page.get_by_role("alert")).to_contain_text("Try again in")
