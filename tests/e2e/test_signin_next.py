"""Sign-in's ``next`` in a real browser: where you were going, never anywhere else.

The open-redirect matrix of tests/api/test_sign_in_next.py, signed in through the page: every
hostile ``next`` ends on this server's drive; pages that need sign-in come back after it.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.api.test_sign_in_next import evil_values
from tests.support.server import DikteServer

PASSWORD = "nina's password"


@pytest.fixture(scope="module")
def nina(server: DikteServer) -> str:
    server.client().call("POST", "/api/people", json={"name": "nina", "password": PASSWORD})
    return "nina"


def sign_in_here(page: Page, name: str) -> None:
    """Fill in the sign-in page shown now, and wait until it has left for somewhere else."""
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: urlsplit(url).path != "/signin")


def test_no_hostile_next_leaves_this_server(new_page: Callable[..., Page], server: DikteServer,
                                            nina: str) -> None:
    page = new_page()
    landed: dict[str, str] = {}
    # the page goes where the server's answer says (safe_next, whose whole matrix
    # tests/api/test_sign_in_next.py checks); here one value of each kind, through the browser
    kinds = ("//evil.example", "/\\evil.example", "\\\\evil", "https://evil.example",
             "http:evil", "javascript:alert(1)", "data:text/html,<script>alert(1)</script>",
             "/%2F%2Fevil", "/\t/evil", "/../evil", "#//evil", "", "/\u2215\u2215evil",
             "//%65vil.example")
    matrix = evil_values(server.url)
    assert set(kinds) <= set(matrix)
    here = server.url.split("//")[1]  # and every value that names this server's host and port
    values = [v for v in matrix if v in kinds or here in v]
    for value in values:
        page.context.clear_cookies()
        page.goto(f"{server.url}/signin?next={quote(value, safe='')}")
        sign_in_here(page, nina)  # the address it left for is where it lands: a new page load
        landed[value] = page.url
    wrong = {value: url for value, url in landed.items() if url != f"{server.url}/#/drive"}
    assert not wrong, wrong
    expect(page.get_by_role("toolbar", name="Drive actions")).to_be_visible()


def test_a_page_that_needs_sign_in_comes_back_after_it(new_page: Callable[..., Page],
                                                      server: DikteServer, nina: str) -> None:
    page = new_page()
    page.goto(server.url + "/#/usage")
    page.wait_for_url(f"{server.url}/signin?next={quote('/#/usage', safe='')}")
    expect(page.get_by_label("Password")).to_be_visible()
    page.reload()  # the address keeps where to go
    sign_in_here(page, nina)
    assert page.url == server.url + "/#/usage"
    expect(page.get_by_role("heading", name="My usage")).to_be_visible()

    # a sign-in that ends while a page is open: the next request brings the sign-in page,
    # which comes back to where that page was
    page.context.clear_cookies()
    page.goto(server.url + "/#/tokens")
    page.wait_for_url(f"{server.url}/signin?next={quote('/#/tokens', safe='')}")
    expect(page.get_by_label("Password")).to_be_visible()
    sign_in_here(page, nina)
    assert page.url == server.url + "/#/tokens"
    expect(page.get_by_role("heading", name="API tokens")).to_be_visible()


def test_someone_signed_in_goes_straight_to_next_or_the_drive(
        new_page: Callable[..., Page], server: DikteServer, nina: str) -> None:
    page = new_page()
    page.goto(server.url + "/signin")
    sign_in_here(page, nina)
    assert page.url == server.url + "/#/drive"
    page.goto(f"{server.url}/signin?next={quote('/#/sessions', safe='')}")
    page.wait_for_url(server.url + "/#/sessions")
    for value in ("//evil.example", "https://evil.example/", "javascript:alert(1)"):
        page.goto(f"{server.url}/signin?next={quote(value, safe='')}")
        page.wait_for_url(server.url + "/#/drive")
    # signing out shows the sign-in page without a next; signing in again opens the drive
    page.goto(server.url + "/#/usage")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(server.url + "/signin")
    sign_in_here(page, nina)
    assert page.url == server.url + "/#/drive"
