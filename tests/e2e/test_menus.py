"""The notebook page's menu bar (File, Edit, View, Insert, Runtime, Tools, Help): every menu opens,
its entries are the palette's commands, and they act. Real browser and server."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.test_panels import new_notebook, open_notebook
from tests.support.server import DikteServer

MENUS = ("File", "Edit", "View", "Insert", "Runtime", "Tools", "Help")


def test_every_menu_opens_and_its_entries_are_in_the_palette(
        page: Page, server: DikteServer, shot: Callable[[Page, str], Path]) -> None:
    client = server.client()
    path = f"Notebooks/menus-{uuid.uuid4().hex[:8]}.ipynb"
    new_notebook(client, path, [("code", "print('hi')")])
    open_notebook(page, server, path)
    bar = page.get_by_role("navigation", name="Menu bar")
    entries: dict[str, list[str]] = {}
    for name in MENUS:
        bar.get_by_role("button", name=name, exact=True).click()
        items = page.get_by_role("menuitem")
        expect(items.first).to_be_visible()
        entries[name] = [t.split("\n")[0].strip() for t in items.all_inner_texts()]
        if name == "Runtime":
            shot(page, "menu-bar")
        page.keyboard.press("Escape")
        expect(page.get_by_role("menuitem")).to_have_count(0)
    assert "Restart session" in entries["Runtime"] and "Change runtime type" in entries["Runtime"]
    assert "Download .ipynb" in entries["File"]
    assert "Open variables" in entries["View"]
    # every entry is a command of the palette too
    page.keyboard.press("Control+Shift+P")
    palette = page.get_by_role("dialog", name="Command palette")
    options = [t.split("\n")[0].strip() for t in palette.get_by_role("option").all_inner_texts()]
    page.keyboard.press("Escape")
    missing = {e for items in entries.values() for e in items} - set(options)
    assert not missing, f"menu entries missing from the palette: {missing}"


def test_menu_entries_act(page: Page, server: DikteServer) -> None:
    client = server.client()
    path = f"Notebooks/menus-act-{uuid.uuid4().hex[:8]}.ipynb"
    new_notebook(client, path, [("code", "x = 1")])
    open_notebook(page, server, path)
    bar = page.get_by_role("navigation", name="Menu bar")
    bar.get_by_role("button", name="Insert", exact=True).click()
    page.get_by_role("menuitem", name="Add code cell").click()
    expect(page.locator(".cell")).to_have_count(2)
    bar.get_by_role("button", name="View", exact=True).click()
    page.get_by_role("menuitem", name="Open variables").click()
    expect(page.get_by_role("button", name="Variables", exact=True)).to_have_attribute(
        "aria-pressed", "true")
    bar.get_by_role("button", name="Runtime", exact=True).click()
    page.get_by_role("menuitem", name="Restart session").click()
    expect(page.get_by_role("dialog", name="Restart session?")).to_be_visible()  # asks first
    page.get_by_role("dialog", name="Restart session?").get_by_role("button",
                                                                    name="Cancel").click()
    bar.get_by_role("button", name="File", exact=True).click()
    page.get_by_role("menuitem", name="Open the drive").click()
    expect(page).to_have_url(re.compile(r"#/drive$"))
