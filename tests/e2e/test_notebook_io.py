"""Notebooks in and out, in a real browser: the notebook page's Download menu, and the drive's
"Open from URL" dialog fetching from a local web server and a local git repository."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_notebook import open_notebook
from tests.support.remote import GitDaemon, LocalWeb, Reply, make_repo, notebook_bytes
from tests.support.server import DikteServer


@pytest.fixture(scope="module")
def web() -> Iterator[LocalWeb]:
    srv = LocalWeb()
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DikteServer]:
    """This module's server may fetch from 127.0.0.1, where the test's servers are."""
    srv = DikteServer(tmp_path_factory.mktemp("iosrv") / "data",
                      env={"DIKTE_IMPORT_ALLOW_PRIVATE_ADDRESSES": "true"})
    srv.start()
    yield srv
    srv.close()


def test_the_download_menu_offers_ipynb_py_and_html(page: Page, server: DikteServer) -> None:
    client = server.client()
    path = "Notebooks/Downloadable.ipynb"
    client.new_notebook(path, ["!pip --version\nprint('exported')"])
    open_notebook(page, server, path)
    found = {}
    for label, name in (("Download .ipynb", "Downloadable.ipynb"), ("Download .py", "Downloadable.py"),
                        ("Download .html", "Downloadable.html")):
        page.get_by_role("button", name="Download").click()
        with page.expect_download() as download:
            page.get_by_role("menuitem", name=label).click()
        assert download.value.suggested_filename == name
        found[name] = Path(download.value.path()).read_text()
    assert nbformat.reads(found["Downloadable.ipynb"], as_version=4).cells[0].source.endswith(
        "print('exported')")
    assert "# %%\n# !pip --version\nprint('exported')\n" in found["Downloadable.py"]
    assert found["Downloadable.html"].startswith("<!doctype html>")
    assert "exported" in found["Downloadable.html"]


def open_dialog(page: Page, server: DikteServer) -> None:
    page.goto(f"{server.url}/#/drive")
    page.get_by_role("button", name="Open from URL").click()
    expect(page.get_by_role("dialog", name="Open from URL")).to_be_visible()


def test_open_from_url_saves_a_copy_and_opens_it(page: Page, server: DikteServer,
                                                 web: LocalWeb) -> None:
    web.routes["/share/Lesson.ipynb"] = Reply(body=notebook_bytes("answer = 42", markdown="# Lesson one"))
    for expected in ("Lesson.ipynb", "Lesson (1).ipynb"):
        open_dialog(page, server)
        dialog = page.get_by_role("dialog", name="Open from URL")
        dialog.get_by_label("Notebook link or git repository").fill(f"{web.url}/share/Lesson.ipynb")
        dialog.get_by_role("button", name="Open a copy").click()
        expect(page.get_by_label("Notebook name")).to_have_value(expected)
        expect(page.locator(".cell").first).to_contain_text("Lesson one")
        expect(page.locator(".cell").nth(1)).to_contain_text("answer = 42")
    names = [e["name"] for e in server.client().get("/api/drive/list?path=Notebooks")["entries"]]
    assert {"Lesson.ipynb", "Lesson (1).ipynb"} <= set(names)


def test_a_refusal_is_said_in_the_dialog(page: Page, server: DikteServer, web: LocalWeb) -> None:
    web.routes["/share/broken.ipynb"] = Reply(body=b'{"cells": "none"}')
    open_dialog(page, server)
    dialog = page.get_by_role("dialog", name="Open from URL")
    field = dialog.get_by_label("Notebook link or git repository")
    field.fill(f"{web.url}/share/broken.ipynb")
    dialog.get_by_role("button", name="Open a copy").click()
    expect(dialog.get_by_role("alert")).to_contain_text("broken.ipynb is not a valid notebook")
    field.fill("file:///etc/passwd")
    dialog.get_by_role("button", name="Open a copy").click()
    expect(dialog.get_by_role("alert")).to_contain_text("not file://")
    expect(dialog).to_be_visible()  # still open, to try again


def test_open_from_a_git_repository(page: Page, server: DikteServer, tmp_path: Path) -> None:
    make_repo(tmp_path / "repos" / "course", {
        "week1/intro.ipynb": notebook_bytes("print('week one')")}, {})
    daemon = GitDaemon(tmp_path / "repos", tmp_path / "daemon.log")
    try:
        open_dialog(page, server)
        dialog = page.get_by_role("dialog", name="Open from URL")
        dialog.get_by_label("Notebook link or git repository").fill(f"{daemon.url}/course")
        expect(dialog.get_by_label("It is a git repository")).to_be_checked()  # a git:// URL
        open_button = dialog.get_by_role("button", name="Open a copy")
        expect(open_button).to_be_disabled()  # the path is missing
        dialog.get_by_label("Notebook's path in the repository").fill("week1/intro.ipynb")
        open_button.click()
        expect(page.get_by_label("Notebook name")).to_have_value("intro.ipynb")
        expect(page.locator(".cell").first).to_contain_text("print('week one')")
    finally:
        daemon.close()
