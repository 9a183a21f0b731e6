"""Completion and help from the kernel in the page: Tab on ``os.pat`` offers ``path`` with its
type, Shift-Tab shows a tooltip, ``(`` shows the signature, ``name?`` opens the Help panel.
Real browser, server and kernel."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.test_panels import new_notebook, open_notebook, open_panel, run_new_cell
from tests.support.server import DikteServer, cell_text


def _notebook(server: DikteServer, sources: list[str]) -> tuple[str, list[str]]:
    client = server.client()
    path = f"Notebooks/complete-{uuid.uuid4().hex[:8]}.ipynb"
    cells = new_notebook(client, path, [("code", s) for s in sources])
    client.post("/api/notebooks/connect", {"path": path})
    return path, cells


def _type_in_cell(page: Page, index: int, text: str) -> None:
    editor = page.locator(".cell .cm-content").nth(index)
    # the page may still be settling (the toolbar and banners change once the runtime is
    # known), so a click can land on the next cell: type only once this editor has the focus
    for _ in range(10):
        editor.click()
        if editor.evaluate("el => el.contains(document.activeElement)"):
            break
    expect(editor).to_be_focused()
    page.mouse.move(0, 0)  # no hover tooltip
    page.keyboard.press("Control+End")
    page.keyboard.type(text)


def test_tab_completes_from_the_kernel_with_types_and_docs(
        page: Page, server: DikteServer, shot: Callable[[Page, str], Path]) -> None:
    path, _ = _notebook(server, ["import os\nmy_numbers = [3, 1, 2]", ""])
    run_new_cell(server.client(), path, "import os\nmy_numbers = [3, 1, 2]")
    open_notebook(page, server, path)
    _type_in_cell(page, 1, "os.pat")
    page.keyboard.press("Tab")
    popup = page.locator(".cm-tooltip-autocomplete")
    expect(popup).to_be_visible()
    option = popup.get_by_role("option").filter(has_text="path").first
    expect(option).to_be_visible()
    # the kernel's type of the match (jedi calls os.path a module, or on a cold cache the
    # statement that binds it)
    expect(option).to_contain_text(re.compile("module|statement"))
    expect(page.locator(".cm-completionInfo")).to_contain_text("Common operations on")
    shot(page, "completion")
    page.keyboard.press("Enter")
    editor = page.locator(".cell .cm-content").nth(1)
    expect(editor).to_contain_text("os.path")

    # a name only the kernel knows, with Ctrl-Space
    page.keyboard.press("Enter")
    page.keyboard.type("my_nu")
    page.keyboard.press("Control+Space")
    offered = page.locator(".cm-tooltip-autocomplete").get_by_role("option").filter(
        has_text="my_numbers")
    expect(offered).to_be_visible()
    offered.click()  # chosen with the mouse this time (Tab accepts, above)
    expect(editor).to_contain_text("my_numbers")

    # at a line's start Tab still indents
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    page.keyboard.type("x")
    expect(editor).to_contain_text("    x")


def test_shift_tab_signature_and_help_pane(page: Page, server: DikteServer) -> None:
    path, (first, _) = _notebook(server, ["import os, json\nos.path.join?", ""])
    open_notebook(page, server, path)
    _type_in_cell(page, 1, "sorted")
    page.keyboard.press("Shift+Tab")
    tooltip = page.locator(".kernel-tooltip")
    expect(tooltip).to_contain_text("Return a new list containing all items")
    page.keyboard.press("Escape")
    expect(tooltip).to_have_count(0)

    page.keyboard.type("(")  # typing a call shows its signature
    expect(page.locator(".kernel-signature")).to_contain_text("sorted(iterable")

    page.keyboard.press("Escape")
    expect(page.locator(".kernel-signature")).to_have_count(0)

    # `name?` in a cell opens the Help panel beside the notebook; the cell's outputs stay empty
    page.locator(".cell").nth(0).click()
    page.keyboard.press("Control+Enter")
    help_page = page.get_by_role("article", name="Help: Help")
    expect(help_page).to_contain_text("Join two or more pathname components")
    client = server.client()
    assert cell_text(client.view(path), first) == ""
    # hovering a name the kernel knows (os, imported by that cell) shows its help too
    page.locator(".cell .cm-content").nth(0).get_by_text("join").hover()
    expect(page.locator(".kernel-hover")).to_contain_text("Join two or more")
    # and any name can be looked up there, with its source
    page.get_by_label("Name to look up").fill("json.dumps")
    page.get_by_label("with source (??)").check()
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_role("article", name="Help: json.dumps")).to_contain_text("def dumps(")


def test_help_without_a_runtime_says_to_connect(page: Page, server: DikteServer) -> None:
    client = server.client()
    path = f"Notebooks/complete-none-{uuid.uuid4().hex[:8]}.ipynb"
    new_notebook(client, path, [("code", "")])
    open_notebook(page, server, path)
    open_panel(page, "Help")
    expect(page.get_by_text("connect a runtime first")).to_be_visible()
    page.get_by_label("Name to look up").fill("len")
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_role("alert")).to_contain_text("no connected runtime")



def test_the_variables_panel_follows_each_cell(page: Page, server: DikteServer) -> None:
    path, _ = _notebook(server, [
        "import numpy as np\ngrid = np.ones((2, 5))\nlabel = 'train'", "count = 12"])
    open_notebook(page, server, path)
    open_panel(page, "Variables")
    page.locator(".cell").nth(0).click()
    page.keyboard.press("Control+Enter")
    table = page.get_by_role("table", name="Variables")
    grid = table.get_by_role("row").filter(has_text="grid")
    expect(grid).to_contain_text("numpy.ndarray")
    expect(grid).to_contain_text("(2, 5)")
    expect(table.get_by_role("row").filter(has_text="label")).to_contain_text("'train'")
    expect(table).not_to_contain_text("np")  # modules are not listed
    page.locator(".cell").nth(1).click()
    page.keyboard.press("Control+Enter")  # the next cell's names appear when it ends
    expect(table.get_by_role("row").filter(has_text="count")).to_contain_text("12")
