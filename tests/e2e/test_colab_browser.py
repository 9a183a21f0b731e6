"""google.colab's browser calls in a real browser: the Colab-style notebooks of
tests/colab/notebooks, unchanged, run with "Run all" in the notebook page.

eval_js (in the cell's sandboxed output frame, never the app's page), register_callback with
google.colab.kernel.invokeFunction from a button in an HTML output, output.clear, files.upload
through the page's file picker, files.download and runtime.unassign.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.support.server import Client, DikteServer, cell_text

NOTEBOOKS = Path(__file__).resolve().parents[1] / "colab" / "notebooks"
pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def client(server: DikteServer) -> Client:
    return server.client()


def _open(page: Page, server: DikteServer, client: Client, name: str) -> tuple[str, dict[str, str]]:
    """Put a notebook into the drive under a new name and open it; its path and its cells' ids
    by Colab's metadata id (a Colab notebook has no cell ids: the server gives them when it
    opens it, so they are read while the page holds it open)."""
    path = f"Notebooks/{uuid.uuid4().hex[:8]}-{name}"
    client.call("PUT", f"/api/drive/files/{path}", content=(NOTEBOOKS / name).read_bytes())
    page.goto(server.url + "/#/notebook/" + path)
    expect(page.get_by_role("button", name="Run all")).to_be_visible()
    expect(page.locator(".cell")).not_to_have_count(0)
    cells = client.view(path)["notebook"]["cells"]
    return path, {c["metadata"]["id"]: c["id"] for c in cells}


def _cell(page: Page, cell_id: str) -> Locator:
    return page.locator(f".cell[data-cell-id='{cell_id}']")


def _statuses(client: Client, path: str) -> dict[str, Any]:
    return {cid: s["last_status"] for cid, s in client.view(path)["cells"].items()}


def test_eval_js_callbacks_and_clear_in_the_cells_frames(page: Page, server: DikteServer,
                                                          client: Client) -> None:
    # a cookie of the app's origin, which code in outputs must not see (the notebook checks)
    page.context.add_cookies([{"name": "probe", "value": "visible", "url": server.url}])
    path, ids = _open(page, server, client, "colab_output.ipynb")
    page.get_by_role("button", name="Run all").click()
    last = _cell(page, ids["out6"]).locator("[data-output-type=stream]")
    expect(last).to_have_text("only this line stays", timeout=90_000)
    statuses = _statuses(client, path)
    assert [statuses[ids[f"out{i}"]] for i in range(1, 7)] == ["ok"] * 6, statuses
    view = client.view(path)
    assert cell_text(view, ids["out1"]) == "eval_js: 42\n"
    assert cell_text(view, ids["out2"]).endswith("slowDouble: {'doubled': 42}\n")
    assert cell_text(view, ids["out3"]) == \
        "MessageError: ReferenceError: notDefined is not defined\n"
    probe = cell_text(view, ids["out4"])
    assert "probe=visible" not in probe and "dikte_session" not in probe, probe
    assert cell_text(view, ids["out6"]) == "only this line stays\n"  # cleared before it

    # eval_js ran in a sandboxed frame it made in the cell's output area
    host = _cell(page, ids["out1"]).locator("[data-output-type=eval_js_frame] iframe")
    expect(host).to_have_attribute("sandbox", "allow-scripts")

    # a button in the HTML output calls the Python callback and shows what it returned
    cell = _cell(page, ids["out5"])
    frame = cell.frame_locator("[data-mime='text/html'] iframe")
    # the click event itself: a pointer click can miss while frames above still resize
    frame.locator("#go").dispatch_event("click")
    expect(frame.locator("#result")).to_have_text("hello world")
    expect(cell.locator("[data-output-type=stream]")).to_have_text(
        "concat('hello', 'world') called")
    assert page.evaluate("document.cookie").find("probe=visible") >= 0  # the app could


def test_upload_with_the_file_picker_then_download(page: Page, server: DikteServer,
                                                   client: Client, tmp_path: Path) -> None:
    data = bytes(range(256)) * (9 * 4096) + b"tail"  # 9 MiB and a bit: two chunks
    chosen = tmp_path / "dataset.bin"
    chosen.write_bytes(data)
    expected_csv = "epoch,loss\n" + "".join(f"{e},{1 / e:.6f}\n" for e in range(1, 2001))
    path, ids = _open(page, server, client, "colab_files.ipynb")
    with page.expect_download(timeout=90_000) as downloading:
        page.get_by_role("button", name="Run all").click()
        picker = _cell(page, ids["fil1"]).locator("[data-output-type=upload_request]")
        expect(picker).to_be_visible(timeout=90_000)
        picker.get_by_label("Choose files to upload").set_input_files(str(chosen))
        expect(_cell(page, ids["fil3"]).locator("[data-output-type=stream]")).to_have_text(
            "download started", timeout=90_000)
    download = downloading.value
    assert download.suggested_filename == "results.csv"
    assert Path(download.path()).read_text() == expected_csv
    expect(picker).to_have_count(0)
    statuses = _statuses(client, path)
    assert [statuses[ids[c]] for c in ("fil1", "fil2", "fil3")] == ["ok"] * 3, statuses
    view = client.view(path)
    assert cell_text(view, ids["fil1"]) == (
        "Saving dataset.bin to dataset.bin\n"
        f'User uploaded file "dataset.bin" with length {len(data)} bytes\n')
    assert cell_text(view, ids["fil2"]) == "dataset.bin is in /content\n"
    entries = client.get("/api/runtime/files", params={"path": path, "dir": ""})["entries"]
    names = {e["name"]: e for e in entries}
    assert names["dataset.bin"]["size"] == len(data)
    assert not [n for n in names if n.startswith(".upload-")]  # the staging folder is gone
    client.post("/api/notebooks/disconnect", {"path": path})


def test_unassign_ends_the_runtime_and_the_page_says_why(page: Page, server: DikteServer,
                                                         client: Client) -> None:
    path, ids = _open(page, server, client, "colab_runtime.ipynb")
    page.get_by_role("button", name="Run all").click()
    expect(page.get_by_text("Runtime disconnected. The notebook's code ended its runtime.")
           ).to_be_visible(timeout=90_000)
    expect(_cell(page, ids["run2"]).locator("[data-stream=stderr]")).to_contain_text(
        "The runtime was disconnected: The notebook's code ended its runtime.")
    view = client.view(path)
    assert view["runtime"] is None
    assert cell_text(view, ids["run1"]) == "training done; ending the runtime\n"
    assert path not in json.dumps(client.get("/api/sessions"))
