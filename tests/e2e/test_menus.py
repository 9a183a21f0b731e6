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


def _menu(page: Page, menu: str, item: str) -> None:
    page.get_by_role("navigation", name="Menu bar").get_by_role(
        "button", name=menu, exact=True).click()
    page.get_by_role("menuitem", name=item, exact=True).click()


def test_file_menu_opens_uploads_and_copies_notebooks(page: Page, server: DikteServer,
                                                      tmp_path: Path) -> None:
    client = server.client()
    tag = uuid.uuid4().hex[:8]
    path = f"Notebooks/file-menu-{tag}.ipynb"
    other = f"Notebooks/other-{tag}.ipynb"
    new_notebook(client, path, [("code", "print('from the original')")])
    new_notebook(client, other, [("code", "1 + 1")])
    client.run_cells(path, [client.view(path)["notebook"]["cells"][0]["id"]])
    open_notebook(page, server, path)

    # Open notebook: a list of the drive's notebooks; choosing one opens it
    page.keyboard.press("Control+o")
    dialog = page.get_by_role("dialog", name="Open notebook")
    dialog.get_by_role("searchbox").fill(f"other-{tag}")
    dialog.get_by_role("button", name=re.compile(f"other-{tag}")).click()
    expect(page).to_have_url(re.compile(f"other-{tag}"))
    expect(page.locator(".cell .cm-content").first).to_have_text("1 + 1")

    # Save a copy in Drive: the copy has the outputs, and opens
    open_notebook(page, server, path)
    expect(page.locator(".out-stream").first).to_contain_text("from the original")
    _menu(page, "File", "Save a copy in Drive")
    expect(page).to_have_url(re.compile("Copy%20of%20file-menu"))
    expect(page.locator(".out-stream").first).to_contain_text("from the original")
    names = {e["name"] for e in client.get("/api/drive/list", params={"path": "Notebooks"})[
        "entries"]}
    assert f"Copy of file-menu-{tag}.ipynb" in names and f"file-menu-{tag}.ipynb" in names

    # Upload notebook: a broken file is refused with a sentence; a good one opens
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json")
    with page.expect_file_chooser() as chooser:
        _menu(page, "File", "Upload notebook")
    chooser.value.set_files(str(broken))
    expect(page.locator(".toast")).to_contain_text("broken.ipynb is not a notebook")
    good = tmp_path / f"uploaded-{tag}.ipynb"
    good.write_text('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": ['
                    '{"cell_type": "code", "id": "a1", "metadata": {}, "outputs": [], '
                    '"execution_count": null, "source": "print(42)"}]}')
    with page.expect_file_chooser() as chooser:
        _menu(page, "File", "Upload notebook")
    chooser.value.set_files(str(good))
    expect(page).to_have_url(re.compile(f"uploaded-{tag}"))
    expect(page.locator(".cell .cm-content").first).to_have_text("print(42)")


def test_settings_change_theme_font_and_line_numbers_and_are_kept(
        page: Page, server: DikteServer) -> None:
    client = server.client()
    path = f"Notebooks/settings-{uuid.uuid4().hex[:8]}.ipynb"
    new_notebook(client, path, [("code", "a = 1\nb = 2")])
    open_notebook(page, server, path)
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    expect(page.locator(".cell .cm-gutters")).to_be_hidden()
    _menu(page, "Tools", "Settings")
    dialog = page.get_by_role("dialog", name="Settings")
    dialog.get_by_label("Theme").select_option("dark")
    dialog.get_by_label("Editor font size").select_option("18")
    dialog.get_by_label("Show line numbers in code cells").check()
    dialog.get_by_role("button", name="Done").click()
    dark = "rgb(13, 17, 23)"
    assert background != dark
    # applied at once (waited for: the page applies it after it redraws)
    page.wait_for_function(f"getComputedStyle(document.body).backgroundColor === '{dark}'")
    expect(page.locator(".cell .cm-gutters").first).to_be_visible()
    expect(page.locator(".cell .cm-lineNumbers").first).to_contain_text("2")
    page.wait_for_function(
        "getComputedStyle(document.querySelector('.cell .cm-editor')).fontSize === '18px'")
    page.reload()  # kept in this browser
    expect(page.locator(".cell .cm-gutters").first).to_be_visible()
    page.wait_for_function(f"getComputedStyle(document.body).backgroundColor === '{dark}'")
    # back to the light theme
    _menu(page, "Tools", "Settings")
    page.get_by_role("dialog", name="Settings").get_by_label("Theme").select_option("light")
    page.wait_for_function(
        f"getComputedStyle(document.body).backgroundColor === '{background}'")
