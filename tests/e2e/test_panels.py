"""The notebook page's side panels (contents, find and replace, snippets, files, terminal) and
its command palette, driven in a real browser against a real server and runtime."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from playwright.sync_api import FilePayload, Page, expect

from tests.support.server import Client, DikteServer, cell_text


def wait_until(fn: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll the server until ``fn`` returns something truthy (the browser side auto-waits)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def sources(client: Client, path: str) -> list[str]:
    return [c["source"] for c in client.view(path)["notebook"]["cells"]]


def new_notebook(client: Client, path: str, cells: list[tuple[str, str]]) -> list[str]:
    """A notebook holding ``cells`` as (cell_type, source); returns their ids."""
    client.post("/api/notebooks", {"path": path})
    first = client.view(path)["notebook"]["cells"][0]["id"]
    ops: list[dict[str, Any]] = [{"op": "delete", "cell_id": first}]
    ops += [{"op": "insert", "cell_type": t, "source": s} for t, s in cells]
    return list(client.post("/api/notebooks/edit", {"path": path, "ops": ops})["inserted"])


def run_new_cell(client: Client, path: str, source: str) -> str:
    """Append a code cell, run it, and return what it printed."""
    (cid,) = client.post("/api/notebooks/edit", {"path": path, "ops": [
        {"op": "insert", "source": source}]})["inserted"]
    (state,) = client.run_cells(path, [cid])
    assert state["last_status"] == "ok", state
    return cell_text(client.view(path), cid)


def open_notebook(page: Page, server: DikteServer, path: str) -> None:
    page.goto(f"{server.url}/#/notebook/{quote(path)}")
    expect(page.locator(".cell").first).to_be_visible()


def open_panel(page: Page, title: str) -> None:
    # the side panel's rail button (the menu bar has a "Help" menu too)
    button = page.get_by_role("button", name=title, exact=True).and_(
        page.locator("[aria-controls='sp-body']"))
    button.click()
    expect(button).to_have_attribute("aria-pressed", "true")


def test_the_table_of_contents_lists_headings_and_jumps_to_them(page: Page,
                                                                server: DikteServer) -> None:
    client = server.client()
    path = "Notebooks/toc.ipynb"
    ids = new_notebook(client, path, [
        ("markdown", "# Getting started\nSome words."),
        ("code", "x = 1  # not a heading"),
        ("markdown", "## Loading *the* data\n```\n# a comment in a fence\n```"),
        ("code", "\n".join(f"y{i} = {i}" for i in range(40))),
        ("markdown", "### Training"),
    ])
    open_notebook(page, server, path)
    open_panel(page, "Table of contents")
    toc = page.get_by_role("navigation", name="Table of contents")
    items = toc.get_by_role("button")
    expect(items).to_have_text(["Getting started", "Loading the data", "Training"])
    toc.get_by_role("button", name="Training").click()
    expect(page.locator(f'[data-cell-id="{ids[4]}"]')).to_have_class(re.compile(r"\bfocused\b"))
    expect(page.locator(f'[data-cell-id="{ids[4]}"]')).to_be_in_viewport()
    # Headings follow the cells: a new one appears without reopening the panel.
    client.post("/api/notebooks/edit", {"path": path, "ops": [
        {"op": "set_source", "cell_id": ids[0], "source": "# Getting started\n## Setup"}]})
    expect(items).to_have_text(["Getting started", "Setup", "Loading the data", "Training"])


def test_find_and_replace_across_cells(page: Page, server: DikteServer) -> None:
    client = server.client()
    path = "Notebooks/find.ipynb"
    ids = new_notebook(client, path, [
        ("code", 'fruit = "apple"\nprint(fruit)'),
        ("markdown", "Apples are not APPLE pie"),
        ("code", 'print("apple pie", "Apple")'),
    ])
    open_notebook(page, server, path)
    open_panel(page, "Find and replace")
    page.get_by_label("Find", exact=True).fill("apple")
    status = page.get_by_role("status").filter(has_text="match")
    expect(status).to_have_text("5 matches in 3 cells")  # case-insensitive by default
    page.get_by_role("button", name="Match case").click()
    expect(status).to_have_text("2 matches in 2 cells")
    matches = page.get_by_role("list", name="Matches").get_by_role("button")
    expect(matches).to_have_count(2)
    expect(matches.nth(1)).to_contain_text("Cell 3")
    page.get_by_role("button", name="Next", exact=True).click()
    page.get_by_role("button", name="Next", exact=True).click()
    expect(status).to_have_text("2 of 2 matches in 2 cells")
    expect(page.locator(f'[data-cell-id="{ids[2]}"]')).to_have_class(re.compile(r"\bfocused\b"))

    # A regular expression with a group; Replace all changes both code cells.
    page.get_by_role("button", name="Use regular expression").click()
    page.get_by_label("Find", exact=True).fill(r"(a)pple")
    page.get_by_label("Replace with").fill("$1vocado")
    expect(status).to_have_text("2 matches in 2 cells")
    page.get_by_role("button", name="Replace all").click()
    expect(page.get_by_role("status").filter(has_text="No matches")).to_be_visible()
    wait_until(lambda: sources(client, path) == [
        'fruit = "avocado"\nprint(fruit)',
        "Apples are not APPLE pie",
        'print("avocado pie", "Apple")',
    ], what="the server to have the replaced sources")

    # Replace (one at a time) on the other spelling.
    page.get_by_role("button", name="Use regular expression").click()
    page.get_by_role("button", name="Match case").click()
    page.get_by_label("Find", exact=True).fill("apple")
    expect(status).to_have_text("3 matches in 2 cells")
    page.get_by_label("Replace with").fill("Pear")
    page.get_by_role("button", name="Replace", exact=True).click()
    expect(status).to_contain_text("2 matches in 2 cells")
    wait_until(lambda: sources(client, path)[1] == "Pears are not APPLE pie",
               what="the single replacement to reach the server")


def test_a_snippet_inserts_a_code_cell(page: Page, server: DikteServer) -> None:
    client = server.client()
    path = "Notebooks/snippets.ipynb"
    new_notebook(client, path, [("code", "a = 1"), ("code", "b = 2")])
    open_notebook(page, server, path)
    page.locator(".cell").first.click()
    open_panel(page, "Code snippets")
    page.get_by_label("Search snippets").fill("gpu")
    snippets = page.locator(".sp-snippet")
    expect(snippets).to_have_count(1)
    page.get_by_role("button", name="Insert snippet: Check the GPU").click()
    expect(page.locator(".cell")).to_have_count(3)
    wait_until(lambda: len(sources(client, path)) == 3, what="the inserted cell on the server")
    got = sources(client, path)
    assert got[0] == "a = 1" and "!nvidia-smi" in got[1] and got[2] == "b = 2"


def test_the_files_panel_lists_uploads_and_deletes(page: Page, server: DikteServer) -> None:
    client = server.client()
    path = "Notebooks/files.ipynb"
    new_notebook(client, path, [("code", "1 + 1")])

    # Without a runtime the panel says so, in the server's words.
    open_notebook(page, server, path)
    open_panel(page, "Files")
    expect(page.get_by_text("Connect a runtime to see its files.")).to_be_visible()

    run_new_cell(client, path, "open('/content/made_by_cell.txt', 'w').write('hi from a cell')")
    files = page.get_by_role("list", name="Files")
    expect(files.get_by_text("made_by_cell.txt")).to_be_visible()  # follows the runtime
    expect(files.get_by_role("button", name="drive", exact=True)).to_be_visible()

    # Upload
    upload: FilePayload = {"name": "uploaded.txt", "mimeType": "text/plain",
                           "buffer": b"uploaded in a browser"}
    page.get_by_label("Choose files to upload").set_input_files(files=[upload])
    expect(files.get_by_text("uploaded.txt")).to_be_visible()
    out = run_new_cell(client, path, "print(open('/content/uploaded.txt').read())")
    assert "uploaded in a browser" in out

    # New folder, then into it and back with the breadcrumb.
    page.get_by_role("button", name="New folder").click()
    page.get_by_label("New folder name").fill("results")
    page.get_by_role("button", name="Create").click()
    files.get_by_role("button", name="results", exact=True).click()
    crumbs = page.get_by_role("navigation", name="Folder")
    expect(crumbs.get_by_role("button", name="results")).to_have_attribute("aria-current", "page")
    expect(files.get_by_text("This folder is empty.")).to_be_visible()
    crumbs.get_by_role("button", name="content").click()

    # Delete asks first.
    page.get_by_role("button", name="Delete made_by_cell.txt").click()
    page.get_by_role("group", name="Delete made_by_cell.txt?").get_by_role(
        "button", name="Delete").click()
    expect(files.get_by_text("made_by_cell.txt")).to_have_count(0)
    out = run_new_cell(client, path, "import os; print(sorted(os.listdir('/content')))")
    assert "made_by_cell.txt" not in out and "uploaded.txt" in out and "results" in out

    # Download link serves the file.
    href = files.get_by_role("link", name="Download uploaded.txt").get_attribute("href")
    assert href
    body = page.evaluate("h => fetch(h).then(r => r.text())", href)
    assert body == "uploaded in a browser"


def test_the_terminal_runs_commands_in_the_runtime(page: Page, server: DikteServer) -> None:
    client = server.client()
    path = "Notebooks/terminal.ipynb"
    new_notebook(client, path, [("code", "1 + 1")])
    run_new_cell(client, path, "open('/content/seen_by_terminal.txt', 'w').write('x')")
    open_notebook(page, server, path)
    assert not any("xterm" in (s or "") for s in page.evaluate(
        "[...document.scripts].map(s => s.src)"))
    open_panel(page, "Terminal")
    rows = page.locator(".xterm-rows")
    expect(rows).to_be_visible()
    expect(page.get_by_text("Connecting…")).to_have_count(0)
    page.locator(".xterm").click()
    page.keyboard.type("ls /content")
    page.keyboard.press("Enter")
    expect(rows).to_contain_text("seen_by_terminal.txt")
    # The shell exits: the panel says so and reconnects on request.
    page.keyboard.type("exit")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Terminal closed")).to_be_visible()
    page.get_by_role("button", name="Reconnect").click()
    expect(page.get_by_text("Terminal closed")).to_have_count(0)
    expect(page.get_by_text("Connecting…")).to_have_count(0)
    expect(rows).to_contain_text(":/content#")  # the new shell's prompt: it reads keys now
    page.locator(".xterm").click()
    page.keyboard.type("echo $((6*7))")
    page.keyboard.press("Enter")
    expect(rows).to_contain_text("42")


def test_the_command_palette_runs_run_all(page: Page, server: DikteServer) -> None:
    client = server.client()
    path = "Notebooks/palette.ipynb"
    ids = new_notebook(client, path, [("code", "print('first ' + str(6 * 7))"),
                                      ("code", "print('second')")])
    open_notebook(page, server, path)
    page.locator(".cell").first.click()
    page.keyboard.press("Control+Shift+P")
    dialog = page.get_by_role("dialog", name="Command palette")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Search commands").click()  # focus is the palette's own; be explicit
    page.keyboard.type("run all")
    expect(dialog.get_by_role("option").first).to_contain_text("Run all")
    page.keyboard.press("Enter")
    expect(dialog).to_have_count(0)
    expect(page.get_by_text("first 42")).to_be_visible(timeout=120_000)
    expect(page.get_by_text("second", exact=True)).to_be_visible()
    view = client.view(path)
    assert "first 42" in cell_text(view, ids[0]) and "second" in cell_text(view, ids[1])

    # Esc closes; a panel entry opens its panel.
    page.keyboard.press("Control+Shift+P")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    page.keyboard.press("Control+Shift+P")
    dialog.get_by_label("Search commands").click()
    page.keyboard.type("contents")
    expect(dialog.get_by_role("option").first).to_have_text("Open table of contents")
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Table of contents", exact=True)).to_have_attribute(
        "aria-pressed", "true")
