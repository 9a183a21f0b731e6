"""Limits in the browser: the idle warning with its countdown and "I'm still here", the stop
with its reason, and a refused connect's sentence."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.api.test_tiers import tier_config
from tests.e2e.conftest import sign_in
from tests.support.server import DikteServer


def test_idle_warning_still_here_and_the_stop_reason(
        fresh_server: Callable[..., DikteServer], new_page: Callable[..., Page],
        tmp_path: Path) -> None:
    srv = fresh_server(DIKTE_CONFIG=tier_config(tmp_path, idle_timeout_s=4,
                                                warn_before_stop_s=3)).start()
    client = srv.client()
    path = "Notebooks/idle.ipynb"
    client.new_notebook(path, ["1"])
    page = new_page()
    sign_in(page, srv)
    page.goto(f"{srv.url}/#/notebook/{path}")
    client.post("/api/notebooks/connect", {"path": path})
    banner = page.locator("[data-kind=notice][data-code=idle_timeout]")
    expect(banner).to_contain_text("Are you still there?", timeout=20_000)
    expect(banner.locator(".countdown")).to_contain_text("s left")
    banner.get_by_role("button", name="I'm still here").click()
    expect(banner).to_have_count(0)
    # no one answers the next warning: the runtime stops and says why
    expect(page.get_by_text("Runtime disconnected: idle timeout of 4 s reached.")).to_be_visible(
        timeout=30_000)
    assert client.get("/api/sessions") == []


def test_a_refused_connect_shows_the_limit(
        fresh_server: Callable[..., DikteServer], new_page: Callable[..., Page],
        tmp_path: Path) -> None:
    srv = fresh_server(DIKTE_CONFIG=tier_config(tmp_path)).start()
    client = srv.client()
    client.new_notebook("Notebooks/a.ipynb", ["1"])
    client.new_notebook("Notebooks/b.ipynb", ["1"])
    client.post("/api/notebooks/connect", {"path": "Notebooks/a.ipynb"})
    page = new_page()
    sign_in(page, srv)
    page.goto(f"{srv.url}/#/notebook/Notebooks/b.ipynb")
    page.get_by_role("button", name="Connect").first.click()
    expect(page.get_by_text("You have 1 of 1 standard sessions.")).to_be_visible()
