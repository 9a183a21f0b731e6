"""The admin page's runtimes started ahead, in a real browser: ready ones per image, and the
count given, which a connect raises."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.e2e.conftest import sign_in
from tests.support.server import DikteServer


def test_the_admin_page_shows_runtimes_started_ahead_and_those_given(
        new_page: Callable[..., Page], fresh_server: Callable[..., DikteServer]) -> None:
    server = fresh_server(DIKTE_RUNTIME_POOL="1").start()
    page = new_page()
    sign_in(page, server)
    page.get_by_role("link", name="Admin").click()
    section = page.get_by_role("region", name="Runtimes started ahead")
    expect(section).to_contain_text("1 kept ready per image and disk size")
    row = section.get_by_role("row", name="minimal")
    expect(row.get_by_role("cell").nth(2)).to_have_text("1", timeout=60_000)  # ready

    client = server.client()
    client.new_notebook("Notebooks/a.ipynb", ["1"])
    client.post("/api/notebooks/connect", {"path": "Notebooks/a.ipynb"})
    expect(section).to_contain_text("1 given since the server started", timeout=30_000)
    client.post("/api/notebooks/disconnect", {"path": "Notebooks/a.ipynb"})
