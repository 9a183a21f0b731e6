"""Accelerators in the browser: the runtime-type dialog lists what the server has and what the
tier allows (and why not), a GPU runtime waits in line with its place shown and can leave it, and
a connected one names its accelerator in the toolbar."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.api.test_accelerators import config
from tests.e2e.conftest import sign_in
from tests.support.server import DikteServer

LONG = 60_000


def choose(page: Page, shape_label: str) -> None:
    page.get_by_role("button", name="Runtime", exact=True).click()
    page.get_by_role("menuitem", name="Change runtime type").click()
    dialog = page.get_by_role("dialog", name="Change runtime type")
    hardware = dialog.get_by_role("group", name="Hardware")
    hardware.get_by_label(shape_label).check()
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_have_count(0)


def test_runtime_types_the_line_and_the_gpu_in_the_toolbar(
        fresh_server: Callable[..., DikteServer], new_page: Callable[..., Page],
        tmp_path: Path, shot: Callable[[Page, str], Path]) -> None:
    srv = fresh_server(DIKTE_CONFIG=config(tmp_path, devices=1)).start()
    client = srv.client()
    client.new_notebook("Notebooks/holder.ipynb", ["1"])
    path = "Notebooks/gpu.ipynb"
    client.new_notebook(path, ["import os; print(os.environ['CUDA_VISIBLE_DEVICES'])"])
    client.post("/api/notebooks/connect", {"path": "Notebooks/holder.ipynb", "shape": "T4"})
    page = new_page()
    sign_in(page, srv)
    page.goto(f"{srv.url}/#/notebook/{path}")
    page.get_by_role("button", name="Runtime", exact=True).click()
    page.get_by_role("menuitem", name="Change runtime type").click()
    dialog = page.get_by_role("dialog", name="Change runtime type")
    hardware = dialog.get_by_role("group", name="Hardware")
    expect(hardware.get_by_role("radio")).to_have_count(3)  # CPU, high-RAM CPU, T4
    t4 = hardware.locator("[data-shape=T4]")
    expect(t4).to_contain_text("T4 GPU")
    expect(t4).to_contain_text("0 of 1 free")
    high_ram = hardware.locator("[data-shape=high_ram]")
    expect(high_ram.get_by_role("radio")).to_be_disabled()
    expect(high_ram).to_contain_text("The free tier has no high-RAM runtimes.")
    shot(page, "runtime-type")
    dialog.get_by_role("button", name="Cancel").click()
    # all T4s are taken: choosing one puts the notebook in line, and it can leave
    choose(page, "T4 GPU")
    queued = page.locator(".rt-status.queued")
    expect(queued).to_contain_text("Waiting for a T4: next in line", timeout=LONG)
    queued.get_by_role("button", name="Leave the queue").click()
    expect(queued).to_have_count(0, timeout=LONG)
    assert client.view(path)["runtime"] is None
    # the holder lets go: the next try gets the GPU at once, and the toolbar names it
    client.post("/api/notebooks/disconnect", {"path": "Notebooks/holder.ipynb"})
    choose(page, "T4 GPU")
    expect(page.get_by_role("status", name="Runtime connected")).to_contain_text("T4",
                                                                                   timeout=LONG)
    assert client.view(path)["runtime"]["shape"] == "T4"
    # the admin page lists the device and who holds it
    rid = client.view(path)["runtime"]["runtime_id"]
    page.goto(f"{srv.url}/#/admin")
    row = page.get_by_role("table", name="Accelerators").get_by_role("row", name="GPU-t4-0")
    expect(row).to_contain_text("Tesla T4")
    expect(row).to_contain_text(rid)
