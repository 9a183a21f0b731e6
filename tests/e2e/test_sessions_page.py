"""Manage sessions in a real browser: every runtime with its meters, and Terminate."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.support.server import Client, DikteServer


def test_sessions_show_their_meters_and_terminate_ends_one(
        page: Page, server: DikteServer, client: Client,
        shot: Callable[[Page, str], Path]) -> None:
    client.post("/api/drive/dirs", {"path": "Course"})
    for path in ("Course/Week 1 - numpy.ipynb", "Course/Week 2 - pandas.ipynb"):
        client.post("/api/notebooks", {"path": path})
        client.post("/api/notebooks/connect", {"path": path})
    # The second one is busy with a long cell.
    client.post("/api/notebooks/edit", {"path": "Course/Week 2 - pandas.ipynb", "ops": [
        {"op": "insert", "source": "import time\nfor _ in range(600):\n    time.sleep(0.5)"}]})
    client.post("/api/notebooks/run", {"path": "Course/Week 2 - pandas.ipynb", "mode": "all"})

    page.get_by_role("link", name="Manage sessions").click()
    expect(page).to_have_url(re.compile(r"#/sessions$"))
    expect(page.get_by_role("heading", name="Manage sessions")).to_be_visible()
    week1 = page.get_by_role("listitem", name="Course/Week 1 - numpy.ipynb")
    week2 = page.get_by_role("listitem", name="Course/Week 2 - pandas.ipynb")
    expect(week1).to_be_visible()
    expect(week2).to_be_visible()
    expect(week1.get_by_role("link", name="Week 1 - numpy.ipynb")).to_have_attribute(
        "href", "#/notebook/Course/Week%201%20-%20numpy.ipynb")
    expect(week1).to_contain_text("just now")
    expect(week1).to_contain_text("Idle")
    expect(week2).to_contain_text("Busy")  # the page refreshes by itself
    for item in (week1, week2):
        # DIKTE_RUNTIME_MEMORY=2GiB in the test server
        expect(item.get_by_role("meter", name="RAM used")).to_have_attribute(
            "aria-valuetext", re.compile(r"^[\d.]+ [KMG]?B / 2 GB$"))
        expect(item.get_by_role("meter", name="Disk used")).to_have_attribute(
            "aria-valuetext", re.compile(r"^[\d.]+ [KMG]?B"))
    shot(page, "sessions")

    (busy,) = [s for s in client.get("/api/sessions")
               if s["notebook_path"] == "Course/Week 2 - pandas.ipynb"]
    week2.get_by_role("button", name="Terminate").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Course/Week 2 - pandas.ipynb")
    dialog.get_by_role("button", name="Terminate").click()
    expect(week2).to_have_count(0)
    expect(week1).to_be_visible()
    left = client.get("/api/sessions")
    assert [s["notebook_path"] for s in left] == ["Course/Week 1 - numpy.ipynb"]
    assert busy["runtime_id"] not in {s["runtime_id"] for s in left}

    # Terminated from elsewhere: the page notices on its own.
    client.call("DELETE", f"/api/sessions/{left[0]['runtime_id']}")
    expect(page.get_by_text("No active sessions")).to_be_visible()
    assert client.get("/api/sessions") == []
