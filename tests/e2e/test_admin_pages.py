"""My usage, API tokens and Admin in a real browser."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.conftest import sign_in
from tests.support.server import Client, DikteServer

_names = itertools.count(1)
PASSWORD = "correct horse battery"


def person_with_token(server: DikteServer, client: Client) -> tuple[dict[str, Any], str]:
    """A new person (added over REST) and a token they made for themselves after signing in."""
    person = client.post("/api/people", {"name": f"pupil{next(_names)}", "password": PASSWORD})
    return person, token_of(server, person["name"])


def token_of(server: DikteServer, name: str) -> str:
    with httpx.Client(base_url=server.url, headers={"Origin": server.url}) as web:
        web.post("/api/auth/login", json={"name": name, "password": PASSWORD}).raise_for_status()
        r = web.post("/api/tokens", json={"name": "test", "scopes": ["read", "write"]})
        r.raise_for_status()
        return str(r.json()["token"])


def me_status(server: DikteServer, token: str) -> int:
    return httpx.get(server.url + "/api/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_my_usage_shows_the_tier_and_the_reset(page: Page, server: DikteServer, client: Client,
                                               shot: Callable[[Page, str], Path]) -> None:
    usage = client.get("/api/usage")
    page.get_by_role("link", name="My usage").click()
    expect(page).to_have_url(re.compile(r"#/usage$"))
    expect(page.get_by_role("heading", name="My usage")).to_be_visible()
    expect(page.get_by_test_id("tier")).to_have_text(usage["limits"]["name"])
    local = page.evaluate(
        "t => new Date(t * 1000).toLocaleString(undefined, "
        "{weekday: 'short', hour: 'numeric', minute: '2-digit'})", usage["resets_at"])
    expect(page.get_by_test_id("resets")).to_contain_text(local)
    expect(page.get_by_role("meter", name="Accelerator hours used")).to_have_attribute(
        "aria-valuetext", re.compile(r"^([\d.]+ h / [\d.]+ h|none in this tier)$"))
    page.set_viewport_size({"width": 400, "height": 800})  # the top bar still fits
    bar = page.locator(".topbar").bounding_box()
    signout = page.get_by_role("button", name="Sign out").bounding_box()
    assert bar and signout and signout["x"] + signout["width"] <= 400
    page.set_viewport_size({"width": 1280, "height": 800})
    for words in ("Idle timeout", "Maximum lifetime", "Disconnect grace", "Background execution",
                  "Drive", "RAM per runtime", "Sessions at once"):
        expect(page.get_by_role("main").get_by_text(words, exact=True)).to_be_visible()
    shot(page, "usage")


def test_a_token_made_in_the_page_works_until_revoked(page: Page, server: DikteServer) -> None:
    page.goto(server.url + "/#/usage")
    page.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", name="API tokens")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("ci script")
    page.get_by_role("button", name="Create token").click()
    secret_field = page.get_by_label("New token secret")
    expect(secret_field).to_have_value(re.compile(r"^dk_"))
    secret = secret_field.input_value()
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    row = page.get_by_role("row", name="ci script")
    expect(row).to_contain_text("read")
    expect(row).to_contain_text("write")
    r = httpx.get(server.url + "/api/me", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 200 and r.json()["is_admin"]

    row.get_by_role("button", name="Revoke ci script").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    expect(row).to_have_count(0)
    expect(page.get_by_label("New token secret")).to_have_count(0)  # shown once, gone now
    assert me_status(server, secret) == 401


def test_admin_adds_a_person_changes_their_tier_and_disables_them(
        page: Page, server: DikteServer, client: Client) -> None:
    name = f"newcomer{next(_names)}"
    page.get_by_role("link", name="Admin").click()
    expect(page.get_by_role("heading", name="Admin", exact=True)).to_be_visible()
    page.get_by_role("button", name="Add person").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_label("Password").fill("short")
    dialog.get_by_role("button", name="Add").click()
    expect(dialog.get_by_role("alert")).to_contain_text("8")  # the server's sentence
    dialog.get_by_label("Password").fill(PASSWORD)
    dialog.get_by_role("button", name="Add").click()
    expect(dialog).to_have_count(0)
    row = page.get_by_role("table", name="People").get_by_role("row", name=name)
    expect(row).to_be_visible()
    token = token_of(server, name)
    assert me_status(server, token) == 200

    row.get_by_label(f"Tier of {name}").select_option("pro")
    expect(row.get_by_label(f"Tier of {name}")).to_have_value("pro")
    # The select shows "pro" at once; the page reloads its tables once the server has it.
    expect(page.get_by_role("table", name="Usage today").get_by_role("row", name=name)).to_contain_text("pro")
    (person,) = [p for p in client.get("/api/people") if p["name"] == name]
    assert person["tier"] == "pro"

    row.get_by_label(f"{name} is disabled").click()  # asks first: disabling revokes everything
    page.get_by_role("dialog").get_by_role("button", name="Disable").click()
    expect(row.get_by_label(f"{name} is disabled")).to_be_checked()
    assert me_status(server, token) == 401

    # A refusal shows the server's sentence: an administrator may not disable themselves.
    (me,) = [p for p in client.get("/api/people") if p["is_admin"] and p["id"] == client.get("/api/me")["id"]]
    page.get_by_role("table", name="People").get_by_role("row", name=me["name"]).get_by_label(
        f"{me['name']} is disabled").click()
    page.get_by_role("dialog").get_by_role("button", name="Disable").click()
    expect(page.get_by_role("dialog").get_by_role("alert")).to_contain_text("cannot disable yourself")
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()


def test_admin_sees_and_terminates_another_persons_runtime(
        page: Page, server: DikteServer, client: Client,
        shot: Callable[[Page, str], Path]) -> None:
    person, token = person_with_token(server, client)
    theirs = server.client(token)
    path = "Notebooks/homework.ipynb"
    theirs.post("/api/notebooks", {"path": path})
    theirs.post("/api/notebooks/connect", {"path": path})
    (session,) = theirs.get("/api/sessions")

    page.goto(server.url + "/#/admin")
    live = page.get_by_role("table", name="Live sessions")
    row = live.get_by_role("row", name=f"{person['name']}: {path}")
    expect(row).to_be_visible()
    expect(row).to_contain_text("Idle")
    usage = page.get_by_role("table", name="Usage today")
    expect(usage.get_by_role("row", name=person["name"])).to_be_visible()
    shot(page, "admin")

    row.get_by_role("button", name=re.compile("^Terminate")).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(person["name"])
    dialog.get_by_role("button", name="Terminate").click()
    expect(row).to_have_count(0)
    assert session["runtime_id"] not in {s["runtime_id"] for s in theirs.get("/api/sessions")}
    view = theirs.get("/api/notebooks/view", params={"path": path})
    assert view["runtime"] is None or view["runtime"].get("status") != "connected"


def test_someone_who_is_not_an_administrator_gets_no_admin_page(
        new_page: Callable[..., Page], server: DikteServer, client: Client) -> None:
    _person, token = person_with_token(server, client)
    page = new_page()
    sign_in(page, server, token)
    expect(page.get_by_role("link", name="My usage")).to_be_visible()
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)
    page.goto(server.url + "/#/admin")
    expect(page.get_by_role("alert")).to_have_text("Only an administrator may see this page.")
    r = httpx.get(server.url + "/api/admin/sessions", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403 and r.json()["error"]["message"] == "Only an administrator may do this."
    # the token page offers only what they may grant
    page.goto(server.url + "/#/tokens")
    expect(page.get_by_role("checkbox", name="write")).to_be_visible()
    expect(page.get_by_role("checkbox", name="admin")).to_have_count(0)


def test_admin_invites_and_the_invitee_lands_in_their_drive(
        page: Page, new_page: Callable[..., Page], server: DikteServer, client: Client,
        shot: Callable[[Page, str], Path]) -> None:
    name = f"invitee{next(_names)}"
    page.goto(server.url + "/#/admin")
    page.get_by_role("button", name="Invite person").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name", exact=True).fill(name)
    dialog.get_by_label("Tier").select_option("pro")
    dialog.get_by_role("button", name="Create link").click()
    expect(dialog).to_have_count(0)
    link_field = page.get_by_label("Invitation link")
    expect(link_field).to_have_value(re.compile(r"/invite#."))
    link = link_field.input_value()
    assert link.startswith(server.url + "/invite#")
    invitations = page.get_by_role("table", name="Invitations")
    row = invitations.get_by_role("row", name=f"Invitation of {name}")
    expect(row).to_contain_text("Pending")
    shot(page, "admin-invite")

    guest = new_page()
    guest.goto(link)
    expect(guest.get_by_text(f"Welcome, {name}.")).to_be_visible()
    expect(guest.get_by_label("Name")).to_have_value(name)
    guest.get_by_label("New password").fill(PASSWORD)
    guest.get_by_label("Repeat the password").fill(PASSWORD + "!")
    guest.get_by_role("button", name="Set password and sign in").click()
    expect(guest.get_by_role("alert")).to_have_text("The two passwords are not the same.")
    guest.get_by_label("Repeat the password").fill(PASSWORD)
    guest.get_by_role("button", name="Set password and sign in").click()
    guest.wait_for_url(server.url + "/#/drive")
    expect(guest.get_by_role("toolbar", name="Drive actions")).to_be_visible()
    assert guest.evaluate("fetch('/api/me').then(r => r.json())")["name"] == name
    guest.go_back()  # the invitation's address (with its code) is not in the history
    assert "#" + link.split("#", 1)[1] not in guest.url

    again = new_page()  # the link works once
    again.goto(link)
    expect(again.get_by_role("alert")).to_have_text(
        "This invitation was already used. Sign in with your name and password, or ask your "
        "administrator for a new invitation.")
    (person,) = [p for p in client.get("/api/people") if p["name"] == name]
    assert person["tier"] == "pro" and person["has_password"] and not person["is_admin"]
    page.get_by_role("button", name="Refresh").click()
    expect(row).to_contain_text("Used")
    expect(row.get_by_role("button", name=re.compile("^Revoke"))).to_have_count(0)

    # a pending invitation withdrawn from the page: its link says so
    other = f"invitee{next(_names)}"
    page.get_by_role("button", name="Done").click()
    page.get_by_role("button", name="Invite person").click()
    page.get_by_role("dialog").get_by_label("Name", exact=True).fill(other)
    page.get_by_role("dialog").get_by_role("button", name="Create link").click()
    other_link = page.get_by_label("Invitation link").input_value()
    invitations.get_by_role("button", name=f"Revoke the invitation of {other}").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    expect(invitations.get_by_role("row", name=f"Invitation of {other}")).to_contain_text("Revoked")
    late = new_page()
    late.goto(other_link)
    expect(late.get_by_role("alert")).to_have_text(
        "This invitation was withdrawn by an administrator. Ask them for a new one.")
