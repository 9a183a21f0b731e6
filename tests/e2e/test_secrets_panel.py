"""The Secrets side panel (frontend/src/panels/secrets.tsx) in a real browser: add a secret,
turn on its Notebook access, and read it with ``google.colab.userdata`` in a cell."""

from __future__ import annotations

import uuid
from urllib.parse import quote

from playwright.sync_api import Page, expect

from tests.support.server import DikteServer

expect.set_options(timeout=30_000)  # a shared, busy machine: the runtime starts with the first run

PATH = "Notebooks/secrets-panel.ipynb"
CELL = "from google.colab import userdata; print(userdata.get('X'))"


def test_a_secret_added_and_granted_in_the_panel_is_read_by_a_cell(page: Page,
                                                                    server: DikteServer) -> None:
    value = f"panel-value-{uuid.uuid4().hex[:12]}"
    (cell_id,) = server.client().new_notebook(PATH, [CELL])
    page.goto(f"{server.url}/#/notebook/{quote(PATH)}")
    cell = page.locator(f"[data-cell-id='{cell_id}']")
    expect(cell).to_be_visible()

    rail = page.get_by_role("button", name="Secrets", exact=True)
    rail.click()
    expect(rail).to_have_attribute("aria-pressed", "true")
    panel = page.get_by_role("region", name="Secrets")
    panel.get_by_role("button", name="Add new secret").click()
    panel.get_by_label("Secret name").fill("X")
    panel.get_by_label("Secret value").fill(value)
    panel.get_by_role("button", name="Save").click()

    access = panel.get_by_role("switch", name="Notebook access for X")
    expect(access).to_have_attribute("aria-checked", "false")
    expect(panel.get_by_role("list", name="Secrets")).to_contain_text("X")
    assert value not in (panel.inner_text()), "the panel never shows a stored value"

    # Before the grant, the cell is told where to turn access on.
    cell.get_by_role("button", name="Run cell").click()
    expect(cell.locator("[data-output-type='error']")).to_contain_text("NotebookAccessError")
    expect(cell.locator("[data-output-type='error']")).to_contain_text("Secrets panel")

    access.click()
    expect(access).to_have_attribute("aria-checked", "true")
    expect(panel).to_contain_text("Granted to this notebook")
    cell.get_by_role("button", name="Run cell").click()
    expect(cell.locator("[data-output-type='stream']")).to_have_text(value + "\n")
    expect(cell.locator("[data-output-type='error']")).to_have_count(0)

    # A new value, edited in the panel, is what the next run reads.
    panel.get_by_role("button", name="Edit value of X").click()
    panel.get_by_label("New value of X").fill(value + "-2")
    panel.get_by_role("button", name="Save").click()
    expect(panel.get_by_label("New value of X")).to_have_count(0)
    cell.get_by_role("button", name="Run cell").click()
    expect(cell.locator("[data-output-type='stream']")).to_have_text(value + "-2\n")

    # Deleted: the cell raises SecretNotFoundError.
    panel.get_by_role("button", name="Delete X").click()
    panel.get_by_role("group", name="Delete X?").get_by_role("button", name="Delete").click()
    expect(panel.get_by_role("switch", name="Notebook access for X")).to_have_count(0)
    cell.get_by_role("button", name="Run cell").click()
    expect(cell.locator("[data-output-type='error']")).to_contain_text("SecretNotFoundError")
