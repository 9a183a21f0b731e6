"""The Colab-style notebooks of tests/colab/notebooks, unchanged, run with "Run all" in a real
browser, with the same expectations as under ``dikte run`` (tests/colab/test_notebooks.py).

Notebooks that need the page to answer (upload pickers, eval_js) say so in their metadata
(``dikte_test.browser``) and have their own browser test; every other one runs here. Its
fixtures are put into the person's drive through the API, file by file, where ``dikte run
--with`` would copy them; its ``secrets`` are stored and the ``granted`` ones given to the
notebook, as a person does in the Secrets panel.

A cell's ``dikte_test.browser`` replaces its expectation here, where the call reaches the server
(``dikte run`` has none): for example a value instead of the sentence saying the server is
needed. ``frame_contains`` is text the cell's output frame must show.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.colab.test_notebooks import FIXTURES, NOTEBOOKS, check_cell
from tests.support.server import Client, DikteServer

IN_BROWSER = [p for p in NOTEBOOKS
              if "browser" not in json.loads(p.read_text())["metadata"].get("dikte_test", {})]


def _put_tree(client: Client, source: Path) -> None:
    """Copy a file or a folder (empty folders too: a git repository needs them) into the drive."""
    if source.is_file():
        client.call("PUT", f"/api/drive/files/{source.name}", content=source.read_bytes())
        return
    client.post("/api/drive/dirs", {"path": source.name})
    for p in sorted(source.rglob("*")):
        rel = f"{source.name}/{p.relative_to(source)}"
        if p.is_dir():
            client.post("/api/drive/dirs", {"path": rel})
        else:
            client.call("PUT", f"/api/drive/files/{rel}", content=p.read_bytes())


def _settled(client: Client, path: str) -> dict[str, Any]:
    view: dict[str, Any] = client.view(path)
    states = {s["state"] for s in view["cells"].values()}
    return view if states == {"idle"} else {}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("notebook", IN_BROWSER, ids=[p.stem for p in IN_BROWSER])
def test_notebook_runs_unchanged_in_the_browser(notebook: Path, page: Page, server: DikteServer,
                                                tmp_path: Path) -> None:
    client = server.client()
    doc = json.loads(notebook.read_text())
    spec: dict[str, Any] = doc["metadata"].get("dikte_test", {})
    for name in spec.get("fixtures", []):
        built = tmp_path / name
        built.mkdir()
        _put_tree(client, FIXTURES[name](built))
    path = f"Notebooks/{uuid.uuid4().hex[:8]}-{notebook.name}"
    client.call("PUT", f"/api/drive/files/{path}", content=notebook.read_bytes())
    for name, value in spec.get("secrets", {}).items():
        client.call("PUT", f"/api/secrets/{name}", json={"value": value})
    for name in spec.get("granted", []):
        client.post(f"/api/secrets/{name}/access", {"path": path, "granted": True})
    page.goto(f"{server.url}/#/notebook/{path}")
    expect(page.locator(".cell")).not_to_have_count(0)
    page.get_by_role("button", name="Run all").click()
    expect(page.get_by_role("status", name="Runtime connected")).to_be_visible(timeout=60_000)
    deadline = time.monotonic() + spec.get("timeout", 240)
    view = _settled(client, path)
    while not view:
        assert time.monotonic() < deadline, "the notebook did not finish"
        time.sleep(0.5)
        view = _settled(client, path)
    code = [c for c in view["notebook"]["cells"] if c["cell_type"] == "code"]
    originals = [c for c in doc["cells"] if c["cell_type"] == "code"]
    assert len(code) == len(originals)
    expected = [_in_browser(c) for c in originals]
    for number, (cell, expect_) in enumerate(zip(code, expected, strict=True), 1):
        check_cell(number, cell, expect_)
    # the page shows what the server holds: each expected text in its cell's output area
    for cell, expect_ in zip(code, expected, strict=True):
        shown = (expect_.get("error") or expect_.get("output")
                 or next(iter(expect_.get("contains", [])), ""))
        first = shown.strip().splitlines()[0][:60] if shown.strip() else ""
        where = page.locator(f".cell[data-cell-id='{cell['id']}']")
        if first:
            expect(where).to_contain_text(first, timeout=30_000)
        if "frame_contains" in expect_:
            expect(where.frame_locator("iframe").first.locator("body")).to_contain_text(
                expect_["frame_contains"], timeout=30_000)
    client.post("/api/notebooks/disconnect", {"path": path})


def _in_browser(cell: dict[str, Any]) -> dict[str, Any]:
    """A cell's expectation in the browser: its ``browser`` override, else the common one."""
    meta: dict[str, Any] = cell["metadata"].get("dikte_test", {})
    return dict(meta["browser"]) if "browser" in meta else meta
