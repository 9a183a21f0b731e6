"""The notebook page in a real browser: editing, running, the queue, outputs that survive a closed
tab, two tabs in sync, runtime type, input() and notices."""

from __future__ import annotations

import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import sign_in
from tests.support.server import ROOMY_TIER, Client, DikteServer, cell_text

LONG = 90_000  # ms: a runtime's first start on a busy machine


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DikteServer]:
    """This module's server offers two runtime images (both Dikte's own Python)."""
    base = tmp_path_factory.mktemp("nbsrv")
    config = base / "dikte.toml"
    py = sys.executable.replace("\\", "\\\\")
    config.write_text(
        f'[images.default]\npython = "{py}"\ndescription = "Python with numpy and pandas"\n\n'
        f'[images.lite]\npython = "{py}"\ndescription = "A second image for the test"\n'
        + ROOMY_TIER)
    srv = DikteServer(base / "data", "--config", str(config), env={"DIKTE_RUNTIME_MEMORY": "2GiB"})
    srv.start()
    yield srv
    srv.close()


def open_notebook(page: Page, server: DikteServer, path: str) -> None:
    page.goto(f"{server.url}/#/notebook/{path}")
    expect(page.get_by_label("Notebook name")).to_have_value(path.rsplit("/", 1)[-1])
    expect(page.locator("main.nb-main")).to_have_attribute("aria-busy", "false")


def cell(page: Page, cell_id: str) -> Locator:
    return page.locator(f'[data-cell-id="{cell_id}"]')


def run_button(page: Page, cell_id: str) -> Locator:
    return cell(page, cell_id).locator(".run-btn")


def output(page: Page, cell_id: str) -> Locator:
    return cell(page, cell_id).locator(".cell-output")


def wait_idle(client: Client, path: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = client.view(path)
        if all(s["state"] == "idle" for s in view["cells"].values()):
            return
        time.sleep(0.2)
    raise AssertionError("cells still running")


def test_type_code_and_shift_enter_runs_it(page: Page, server: DikteServer) -> None:
    client = server.client()
    path = "Notebooks/typing.ipynb"
    (cid,) = client.new_notebook(path, [""])
    open_notebook(page, server, path)
    cell(page, cid).locator(".cm-content").click()
    page.keyboard.type("print(6 * 7)")
    page.keyboard.press("Shift+Enter")
    expect(output(page, cid)).to_contain_text("42", timeout=LONG)
    expect(run_button(page, cid)).to_have_attribute("data-state", "idle")
    expect(cell(page, cid).locator(".exec-count")).to_have_text("[1]")
    # Shift-Enter on the last cell added a new one, with the cursor in it
    expect(page.locator(".cell")).to_have_count(2)
    page.keyboard.type("1 + 1")
    expect(page.locator(".cell").nth(1).locator(".cm-content")).to_have_text("1 + 1")
    expect(page.get_by_role("status").filter(has_text="All changes saved")).to_be_visible()
    assert client.view(path)["notebook"]["cells"][0]["source"] == "print(6 * 7)"


def test_queue_shows_running_and_queued_then_results_in_order(page: Page,
                                                             server: DikteServer) -> None:
    client = server.client()
    path = "Notebooks/queue.ipynb"
    ids = client.new_notebook(path, ["import time; time.sleep(3); print('first')",
                                     "print('second')", "print('third')"])
    client.post("/api/notebooks/connect", {"path": path})
    open_notebook(page, server, path)
    expect(page.get_by_role("status", name="Runtime connected")).to_be_visible(timeout=LONG)
    for cid in ids:
        run_button(page, cid).click()
    expect(run_button(page, ids[0])).to_have_attribute("data-state", "running")
    expect(run_button(page, ids[1])).to_have_attribute("data-state", "queued")
    expect(run_button(page, ids[1])).to_have_attribute("data-position", "1")
    expect(run_button(page, ids[2])).to_have_attribute("data-state", "queued")
    expect(run_button(page, ids[2])).to_have_attribute("data-position", "2")
    expect(run_button(page, ids[2])).to_have_attribute("aria-label", re.compile("position 2"))
    expect(page.get_by_role("status", name="Runtime busy")).to_be_visible()
    for cid, text in zip(ids, ["first", "second", "third"], strict=True):
        expect(output(page, cid)).to_contain_text(text, timeout=LONG)
    counts = [cell(page, cid).locator(".exec-count") for cid in ids]
    for c in counts:
        expect(c).to_have_text(re.compile(r"\[\d+\]"))
    n = [int(c.inner_text().strip("[]")) for c in counts]
    assert n == sorted(n) and len(set(n)) == 3
    expect(run_button(page, ids[0])).to_have_attribute("title", re.compile(r"last ran .* took"))


def test_a_tqdm_loop_ends_as_one_bar(page: Page, server: DikteServer) -> None:
    client = server.client()
    path = "Notebooks/tqdm.ipynb"
    (cid,) = client.new_notebook(
        path, ["from tqdm import tqdm\nimport time\nfor i in tqdm(range(40)):\n    time.sleep(0.03)"])
    open_notebook(page, server, path)
    run_button(page, cid).click()
    expect(output(page, cid)).to_contain_text("40/40", timeout=LONG)
    expect(run_button(page, cid)).to_have_attribute("data-state", "idle")
    text = output(page, cid).inner_text()
    assert len([line for line in text.splitlines() if "|" in line]) == 1, text


def test_output_printed_while_the_tab_was_closed_is_there_after_reopening(
        new_page: Callable[..., Page], server: DikteServer) -> None:
    client = server.client()
    path = f"Notebooks/closed-{uuid.uuid4().hex[:8]}.ipynb"  # a rerun starts afresh
    (cid,) = client.new_notebook(
        path, ["import time\nfor i in range(60):\n    print(f'line {i}', flush=True)\n"
               "    time.sleep(0.1)"])
    page = new_page()
    sign_in(page, server)
    open_notebook(page, server, path)
    run_button(page, cid).click()
    expect(output(page, cid)).to_contain_text("line 3", timeout=LONG)
    page.close()
    wait_idle(client, path)
    again = new_page()
    sign_in(again, server)
    open_notebook(again, server, path)
    expect(output(again, cid)).to_contain_text("line 59")
    text = output(again, cid).inner_text()
    assert [f"line {i}" for i in range(60)] == [ln for ln in text.splitlines() if ln.startswith("line")]
    expect(run_button(again, cid)).to_have_attribute("data-state", "idle")


def test_two_pages_on_one_notebook_stay_in_sync(page: Page, new_page: Callable[..., Page],
                                                server: DikteServer) -> None:
    client = server.client()
    path = "Notebooks/sync.ipynb"
    (cid,) = client.new_notebook(path, [""])
    other = new_page()
    sign_in(other, server)
    open_notebook(page, server, path)
    open_notebook(other, server, path)
    cell(page, cid).locator(".cm-content").click()
    page.keyboard.type("print('typed in one tab')")
    expect(cell(other, cid).locator(".cm-content")).to_have_text("print('typed in one tab')")
    run_button(other, cid).click()
    for p in (page, other):
        expect(output(p, cid)).to_contain_text("typed in one tab", timeout=LONG)
    # structure: a text cell added in one page shows up in the other
    page.get_by_role("toolbar", name="Notebook").get_by_role("button", name="Add text cell").click()
    expect(other.locator(".cell")).to_have_count(2)
    expect(other.locator('.cell[data-cell-type="markdown"]')).to_have_count(1)
    expect(page.locator('.cell[data-cell-type="markdown"] .cm-content')).to_be_focused()
    page.keyboard.type("# Shared heading")
    page.keyboard.press("Shift+Enter")
    expect(other.locator(".md-view h1")).to_have_text("Shared heading")
    # moving and deleting follow too
    page.locator('.cell[data-cell-type="markdown"]').get_by_role("button", name="Move cell up").click()
    expect(other.locator(".cell").first).to_have_attribute("data-cell-type", "markdown")
    cell(other, cid).get_by_role("button", name="Clear output").click()
    expect(output(page, cid)).to_have_count(0)


def test_change_runtime_type_lists_images_and_reconnects(page: Page, server: DikteServer) -> None:
    client = server.client()
    path = "Notebooks/runtime-type.ipynb"
    (cid,) = client.new_notebook(path, ["print('on', 'lite')"])
    open_notebook(page, server, path)
    page.get_by_role("button", name="Connect to a runtime").click()
    expect(page.get_by_role("status", name="Runtime connected")).to_be_visible(timeout=LONG)
    page.get_by_role("button", name="Runtime").click()
    page.get_by_role("menuitem", name="Change runtime type").click()
    dialog = page.get_by_role("dialog", name="Change runtime type")
    expect(dialog.get_by_role("group", name="Runtime image").get_by_role("radio")).to_have_count(2)
    expect(dialog).to_contain_text("A second image for the test")
    dialog.get_by_label(re.compile("^lite")).check()
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_have_count(0)
    expect(page.locator(".rt-status.connected")).to_have_attribute(
        "title", re.compile("Connected to lite"), timeout=LONG)
    assert client.view(path)["runtime"]["image"] == "lite"
    run_button(page, cid).click()
    expect(output(page, cid)).to_contain_text("on lite", timeout=LONG)


def test_input_is_answered_in_the_page(page: Page, server: DikteServer) -> None:
    client = server.client()
    path = f"Notebooks/input-{uuid.uuid4().hex[:8]}.ipynb"
    (cid,) = client.new_notebook(path, ["name = input('Your name? ')\nprint('hello', name)"])
    open_notebook(page, server, path)
    run_button(page, cid).click()
    field = cell(page, cid).get_by_label("Your name?")
    expect(field).to_be_visible(timeout=LONG)
    # a reload shows the pending prompt again
    page.reload()
    field = cell(page, cid).get_by_label("Your name?")
    expect(field).to_be_visible()
    field.fill("Ada")
    field.press("Enter")
    expect(output(page, cid)).to_contain_text("hello Ada")
    expect(cell(page, cid).locator("form.input-prompt")).to_have_count(0)
    # the prompt and the answer stay in the output, as in Colab and Jupyter
    expect(output(page, cid)).to_contain_text("Your name? Ada")
    assert cell_text(client.view(path), cid) == "Your name? Ada\nhello Ada\n"


def test_a_dead_kernel_shows_a_notice_until_dismissed(page: Page, server: DikteServer) -> None:
    client = server.client()
    path = "Notebooks/notice.ipynb"
    (cid,) = client.new_notebook(path, ["import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"])
    open_notebook(page, server, path)
    run_button(page, cid).click()
    notice = page.locator('[data-kind="notice"]')
    expect(notice).to_contain_text("exited unexpectedly", timeout=LONG)
    expect(page.get_by_role("status", name="Runtime connected")).to_be_visible(timeout=LONG)
    expect(notice).to_be_visible()  # stays
    notice.get_by_role("button", name="Dismiss notice").click()
    expect(notice).to_have_count(0)


def test_shortcuts_dialog_and_cell_operations(page: Page, server: DikteServer) -> None:
    client = server.client()
    path = "Notebooks/ops.ipynb"
    ids = client.new_notebook(path, ["a = 1", "b = 2"])
    open_notebook(page, server, path)
    cell(page, ids[0]).locator(".cm-content").click()
    page.keyboard.press("Control+m")
    page.keyboard.press("h")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_contain_text("Shift+Enter")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    cell(page, ids[0]).get_by_role("button", name="Copy cell").click()
    expect(page.locator(".cell")).to_have_count(3)
    expect(page.locator(".cell").nth(1).locator(".cm-content")).to_have_text("a = 1")
    cell(page, ids[1]).click()
    cell(page, ids[1]).get_by_role("button", name="Delete cell").click()
    expect(page.locator(".cell")).to_have_count(2)
    expect(page.get_by_role("status").filter(has_text="All changes saved")).to_be_visible()
    sources = [c["source"] for c in client.view(path)["notebook"]["cells"]]
    assert sources == ["a = 1", "a = 1"]


def test_rename_from_the_title(page: Page, server: DikteServer) -> None:
    client = server.client()
    client.new_notebook("Notebooks/before.ipynb", ["x = 1"])
    open_notebook(page, server, "Notebooks/before.ipynb")
    title = page.get_by_label("Notebook name")
    title.fill("after")
    title.press("Enter")
    expect(page).to_have_url(re.compile(r"#/notebook/Notebooks/after\.ipynb$"))
    expect(title).to_have_value("after.ipynb")
    assert client.view("Notebooks/after.ipynb")["notebook"]["cells"][0]["source"] == "x = 1"


def test_a_narrow_window_wraps_without_overflow(new_page: Callable[..., Page],
                                                server: DikteServer) -> None:
    client = server.client()
    path = "Notebooks/narrow.ipynb"
    client.new_notebook(path, ["print('narrow')"])
    page = new_page(width=400, height=800)
    sign_in(page, server)
    open_notebook(page, server, path)
    expect(page.get_by_role("button", name="Connect to a runtime")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 400


SHOWCASE = [
    ("markdown", "# Measurements\nThe sample mean is $\\bar{x} = \\frac{1}{n}\\sum_{i=1}^{n} x_i$, "
                 "and the table below shows the **first rows**."),
    ("code", "import numpy as np, pandas as pd\nrng = np.random.default_rng(1)\n"
             "df = pd.DataFrame({'x': np.arange(5), 'y': rng.normal(size=5).round(3)})\n"
             "print(df.to_string())\ndf.describe().loc[['mean', 'std']]"),
    ("code", "import matplotlib.pyplot as plt\nt = np.linspace(0, 4 * np.pi, 200)\n"
             "fig, ax = plt.subplots(figsize=(6, 2.6))\nax.plot(t, np.sin(t), label='sin')\n"
             "ax.plot(t, np.cos(t), label='cos')\nax.legend(); plt.show()"),
]


def test_screenshot_of_a_notebook_with_outputs(page: Page, server: DikteServer,
                                               shot: Callable[[Page, str], Path]) -> None:
    client = server.client()
    path = "Notebooks/analysis.ipynb"
    client.post("/api/notebooks", {"path": path})
    first = client.view(path)["notebook"]["cells"][0]["id"]
    ops = [{"op": "delete", "cell_id": first}]
    ops += [{"op": "insert", "cell_type": t, "source": s} for t, s in SHOWCASE]
    ids = client.post("/api/notebooks/edit", {"path": path, "ops": ops})["inserted"]
    client.post("/api/notebooks/connect", {"path": path})
    open_notebook(page, server, path)
    page.get_by_role("button", name="Run all").click()
    expect(output(page, ids[2]).locator("img")).to_be_visible(timeout=LONG)
    expect(output(page, ids[1])).to_contain_text("-1.303")
    expect(output(page, ids[1]).frame_locator("iframe").locator("table")).to_contain_text("mean")
    expect(page.locator(".md-view .katex").first).to_be_visible()
    page.locator(".nb-main").click(position={"x": 5, "y": 5})
    shot(page, "notebook")


def test_a_flood_of_output_keeps_the_page_responsive(page: Page, server: DikteServer) -> None:
    client = server.client()
    path = "Notebooks/flood.ipynb"
    ids = client.new_notebook(path, ["for i in range(200_000):\n    print('row', i)", ""])
    client.post("/api/notebooks/connect", {"path": path})
    open_notebook(page, server, path)
    run_button(page, ids[0]).click()
    expect(run_button(page, ids[0])).to_have_attribute("data-state", "running", timeout=LONG)
    # typing elsewhere stays quick while the lines pour in
    cell(page, ids[1]).locator(".cm-content").click()
    page.keyboard.type("x = 'still responsive'")
    expect(cell(page, ids[1]).locator(".cm-content")).to_have_text("x = 'still responsive'")
    expect(run_button(page, ids[0])).to_have_attribute("data-state", "idle", timeout=LONG)
    expect(output(page, ids[0])).to_contain_text("Output truncated")  # the server keeps 10,000
    expect(output(page, ids[0])).to_contain_text("row 9999")
