"""The open-redirect matrix of sign-in's ``next``: only paths of this server are followed.

The rule (:func:`dikte.api.redirects.safe_next`) as a table, then the real server: the target
``POST /api/auth/login`` answers, and where ``GET /signin?next=`` sends someone signed in. The same
matrix runs in a real browser in tests/e2e/test_signin_next.py.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import httpx
import pytest

from dikte.api.redirects import DEFAULT_NEXT, MAX_NEXT, safe_next
from tests.support.server import DikteServer

ORIGIN = "http://dikte.example:8750"


def evil_values(origin: str) -> list[str]:
    """Values that must never leave this server, given its origin ``scheme://host:port``."""
    host = urlsplit(origin).hostname
    port = urlsplit(origin).port or 80
    return [
        "//evil.example", "///evil.example", "////evil.example/x", "/\\evil.example",
        "\\\\evil", "\\/evil.example", "https://evil.example", "http://evil.example/#/drive",
        "HTTPS://EVIL.EXAMPLE", "http:evil", "http:/evil", "https:evil.example",
        "javascript:alert(1)", "JavaScript:alert(document.cookie)", " javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>", "data:", "vbscript:msgbox(1)",
        "ftp://evil.example", "/%2F%2Fevil", "%2F%2Fevil", "/%2f/evil", "/%5Cevil",
        "/%5C%5Cevil", "%5C%5Cevil", "/\t/evil", "/\n/evil", "/\r\n/evil", "\t//evil",
        "/ /evil", "/%09/evil", "/%0a/evil", "/%0D%0A/evil", "/.//evil", "/./", "/../evil",
        "/%2e%2e/evil", "/x/../..//evil", "evil.example", "evil", "./evil", "?next=//evil",
        "#//evil", "", "   ", f"http://{host}:{port + 1}/#/drive", f"https://{host}:{port}/",
        f"http://{host}:{port}@evil.example/", f"http://user:pw@{host}:{port}/",
        f"http://{host}.evil.example:{port}/", f"http://evil.example/{origin}/",
        f"//{host}:{port}/", "/" + "a" * MAX_NEXT, "/#/" + "x" * 10_000, "/\u3000/evil",
        "/\u2215\u2215evil", "/\x00/evil", "/\x7f", "//%65vil.example",
        "/\\\\evil", "/%5C/evil.example",
    ]


GOOD = [
    ("/", "/"), ("/#/drive", "/#/drive"), ("/#/usage", "/#/usage"),
    ("/#/notebook/Notebooks/a%20b.ipynb", "/#/notebook/Notebooks/a%20b.ipynb"),
    ("/#/drive/data/x", "/#/drive/data/x"), ("/?tab=1#/sessions", "/?tab=1#/sessions"),
    ("/signin", "/signin"), ("/#/notebook/Notebooks/%C3%A9t%C3%A9.ipynb",
                             "/#/notebook/Notebooks/%C3%A9t%C3%A9.ipynb"),
    (f"{ORIGIN}/#/usage", "/#/usage"), (f"{ORIGIN.upper()}/#/tokens", "/#/tokens"),
    (f"{ORIGIN}", "/"), (f"{ORIGIN}/?a=b", "/?a=b"),
]


@pytest.mark.parametrize("value", evil_values(ORIGIN))
def test_anything_but_a_path_of_ours_gives_the_drive(value: str) -> None:
    assert safe_next(value, ORIGIN) == DEFAULT_NEXT


@pytest.mark.parametrize(("value", "expected"), GOOD)
def test_paths_of_ours_are_kept(value: str, expected: str) -> None:
    assert safe_next(value, ORIGIN) == expected


def test_the_default_port_counts_as_the_same_origin() -> None:
    assert safe_next("https://dikte.example/#/usage", "https://dikte.example:443") == "/#/usage"
    assert safe_next("https://dikte.example:443/#/usage", "https://dikte.example") == "/#/usage"
    assert safe_next("http://dikte.example/#/usage", "https://dikte.example") == DEFAULT_NEXT
    assert safe_next(None, ORIGIN) == DEFAULT_NEXT


def assert_same_site_path(target: str, server: DikteServer) -> None:
    """Resolved against the server as a browser would, ``target`` stays on the server."""
    resolved = httpx.URL(server.url + "/").join(target)
    assert f"{resolved.scheme}://{resolved.netloc.decode()}" == server.url, target
    assert target.startswith("/") and target[1:2] not in ("/", "\\"), target


def test_login_answers_only_safe_targets(server: DikteServer) -> None:
    origin = {"Origin": server.url}
    seen = {}
    for value in evil_values(server.url):
        r = httpx.post(server.url + "/api/auth/login", json={"token": server.token, "next": value},
                       headers=origin)
        assert r.status_code == 200, (value, r.text)
        seen[value] = r.json()["next"]
        assert_same_site_path(seen[value], server)
    assert set(seen.values()) == {DEFAULT_NEXT}, {k: v for k, v in seen.items()
                                                  if v != DEFAULT_NEXT}
    for value, expected in [*GOOD[:8], (server.url + "/#/usage", "/#/usage")]:
        r = httpx.post(server.url + "/api/auth/login", json={"token": server.token, "next": value},
                       headers=origin)
        assert r.json()["next"] == expected
    # no next at all: the drive, for a password sign-in as for a token
    r = httpx.post(server.url + "/api/auth/login", json={"token": server.token}, headers=origin)
    assert r.json()["next"] == DEFAULT_NEXT


def test_signin_page_sends_someone_signed_in_only_to_safe_targets(server: DikteServer) -> None:
    r = httpx.post(server.url + "/api/auth/login", json={"token": server.token},
                   headers={"Origin": server.url})
    cookies = {"dikte_session": r.cookies["dikte_session"]}
    with httpx.Client(base_url=server.url, cookies=cookies) as browser:
        for value in evil_values(server.url):
            r = browser.get("/signin", params={"next": value})
            assert r.status_code == 303, (value, r.status_code)
            assert r.headers["location"] == DEFAULT_NEXT, (value, r.headers["location"])
        r = browser.get("/signin?next=" + quote("/#/notebook/Notebooks/a%20b.ipynb", safe=""))
        assert r.status_code == 303
        assert r.headers["location"] == "/#/notebook/Notebooks/a%20b.ipynb"
        r = browser.get("/signin")
        assert r.status_code == 303 and r.headers["location"] == DEFAULT_NEXT
    # not signed in (or a cookie that no longer works): the sign-in page itself
    for jar in ({}, {"dikte_session": "ended-or-made-up"}):
        r = httpx.get(server.url + "/signin?next=//evil.example", cookies=jar)
        assert r.status_code == 200 and "text/html" in r.headers["content-type"]
        assert "location" not in r.headers
