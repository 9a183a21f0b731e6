"""Jupyter widgets in the page, drawn by their own classes in sandboxed frames: tqdm.auto reaching
100%, a slider driving a printed value through ``interact``, two tabs moving together, layouts,
an Output widget, buttons, FileUpload, and the last state shown after the kernel is gone.
Real browser, server and kernel."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import FrameLocator, Page, expect

from tests.e2e.test_panels import new_notebook, open_notebook
from tests.support.server import DikteServer, cell_text


def _notebook(server: DikteServer, sources: list[str]) -> tuple[str, list[str]]:
    client = server.client()
    path = f"Notebooks/widgets-{uuid.uuid4().hex[:8]}.ipynb"
    cells = new_notebook(client, path, [("code", s) for s in sources])
    client.post("/api/notebooks/connect", {"path": path})
    return path, cells


def _run(page: Page, cell_id: str) -> None:
    cell = page.locator(f'.cell[data-cell-id="{cell_id}"]')
    cell.locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")


def _widget(page: Page, cell_id: str, nth: int = 0) -> FrameLocator:
    frame = page.locator(f'[data-outputs-for="{cell_id}"] iframe[data-widget]').nth(nth)
    expect(frame).to_be_visible(timeout=60_000)
    return frame.content_frame


def test_tqdm_auto_reaches_100_percent_and_stays_there_after_a_reload(
        page: Page, server: DikteServer) -> None:
    path, (cell,) = _notebook(server, [
        "from tqdm.auto import tqdm\nimport time\n"
        "for i in tqdm(range(50), desc='training'):\n    time.sleep(0.02)"])
    open_notebook(page, server, path)
    _run(page, cell)
    bar = _widget(page, cell)
    expect(bar.locator(".widget-hbox")).to_contain_text("100%", timeout=60_000)
    expect(bar.locator(".widget-hbox")).to_contain_text("50/50")
    expect(bar.locator(".widget-hbox")).to_contain_text("training")
    expect(bar.locator(".progress-bar-success, .progress-bar").first).to_be_visible()
    # the kernel goes; the saved state still draws the finished bar
    server.client().post("/api/notebooks/disconnect", {"path": path})
    page.reload()
    expect(_widget(page, cell).locator(".widget-hbox")).to_contain_text("100%")


def test_a_slider_drives_a_printed_value_and_two_tabs_move_together(
        page: Page, new_page: Callable[..., Page], server: DikteServer,
        shot: Callable[[Page, str], Path]) -> None:
    path, (bars, cell, check) = _notebook(server, [
        "from tqdm.auto import tqdm\nfor epoch in tqdm(range(30), desc='epochs'):\n    pass",
        "import ipywidgets as w\n"
        "@w.interact(n=w.IntSlider(value=5, min=0, max=20, description='n'))\n"
        "def square(n):\n    print(f'{n} squared is {n * n}')",
        "print('now', square.widget.children[0].value)"])
    open_notebook(page, server, path)
    _run(page, bars)
    expect(_widget(page, bars).locator(".widget-hbox")).to_contain_text("100%", timeout=60_000)
    _run(page, cell)
    box = _widget(page, cell)
    expect(box.locator(".widget-output")).to_contain_text("5 squared is 25")

    other = new_page()
    from tests.e2e.conftest import sign_in

    sign_in(other, server)
    open_notebook(other, server, path)
    twin = _widget(other, cell)
    expect(twin.locator(".widget-readout")).to_have_text("5")

    handle = box.locator(".noUi-handle").first
    handle.focus()
    for _ in range(3):
        handle.press("ArrowRight")
    expect(box.locator(".widget-readout")).to_have_text("8")
    expect(box.locator(".widget-output")).to_contain_text("8 squared is 64")
    # the other tab follows: its slider and the output the kernel printed for it
    expect(twin.locator(".widget-readout")).to_have_text("8")
    expect(twin.locator(".widget-output")).to_contain_text("8 squared is 64")
    shot(page, "widgets")
    _run(page, check)
    expect(page.locator(f'[data-outputs-for="{check}"]')).to_contain_text("now 8")
    other.close()


def test_layouts_buttons_output_and_file_upload(page: Page, server: DikteServer,
                                               tmp_path: Path) -> None:
    path, (cell, check) = _notebook(server, [
        "import ipywidgets as w\nfrom IPython.display import display\n"
        "out = w.Output(layout={'border': '1px solid gray'})\n"
        "b = w.Button(description='Say hello', button_style='success')\n"
        "def hello(_):\n    with out:\n        print('hello from the button')\n"
        "b.on_click(hello)\nup = w.FileUpload(description='Upload')\n"
        "tabs = w.Tab(children=[w.HBox([b, up]), w.VBox([w.Checkbox(description='ok'), "
        "w.Dropdown(options=['a', 'b'], description='pick')])])\n"
        "tabs.titles = ('Actions', 'Choices')\ndisplay(tabs, out)",
        "print([(f.name, bytes(f.content).decode()) for f in up.value])"])
    open_notebook(page, server, path)
    _run(page, cell)
    tabs = _widget(page, cell, 0)
    out = _widget(page, cell, 1)
    expect(tabs.get_by_text("Actions")).to_be_visible()
    tabs.get_by_role("button", name="Say hello").click()
    expect(out.locator(".widget-output")).to_contain_text("hello from the button")

    data = tmp_path / "numbers.csv"
    data.write_text("a,b\n1,2\n")
    with page.expect_file_chooser() as chooser:
        tabs.locator(".widget-upload").click()
    chooser.value.set_files(str(data))
    expect(tabs.locator(".widget-upload")).to_contain_text("(1)")
    _run(page, check)
    expect(page.locator(f'[data-outputs-for="{check}"]')).to_contain_text(
        "[('numbers.csv', 'a,b\\n1,2\\n')]")

    tabs.get_by_text("Choices").click()
    tabs.locator(".widget-dropdown select").select_option("b")
    expect(tabs.locator(".widget-dropdown select")).to_have_value("b")
    # what the page chose is what the kernel has (once its echo came back)
    client = server.client()
    (probe,) = client.post("/api/notebooks/edit", {"path": path, "ops": [
        {"op": "insert", "source": "print('picked', tabs.children[1].children[1].value)"}]}
    )["inserted"]
    expect(tabs.locator(".widget-dropdown select")).to_have_value("b")
    client.run_cells(path, [probe])
    assert cell_text(client.view(path), probe) == "picked b\n"


ANYWIDGET = '''import ipywidgets as w, traitlets as t
class Counter(w.DOMWidget):
    # what the anywidget package declares: its JavaScript travels in the model's state
    _model_name = t.Unicode("AnyModel").tag(sync=True)
    _model_module = t.Unicode("anywidget").tag(sync=True)
    _model_module_version = t.Unicode("~0.9.*").tag(sync=True)
    _view_name = t.Unicode("AnyView").tag(sync=True)
    _view_module = t.Unicode("anywidget").tag(sync=True)
    _view_module_version = t.Unicode("~0.9.*").tag(sync=True)
    _esm = t.Unicode("""
export default {
  render({ model, el }) {
    const b = document.createElement("button");
    b.className = "counter";
    const show = () => { b.textContent = `clicked ${model.get("count")} times`; };
    b.addEventListener("click", () => { model.set("count", model.get("count") + 1); model.save_changes(); });
    model.on("change:count", show);
    show();
    el.appendChild(b);
  }
};""").tag(sync=True)
    _css = t.Unicode(".counter { border: 2px solid rebeccapurple; }").tag(sync=True)
    count = t.Int(0).tag(sync=True)
c = Counter()
c'''


def test_an_anywidget_widget_runs_its_own_javascript(page: Page, server: DikteServer) -> None:
    path, (cell, check) = _notebook(server, [ANYWIDGET, "print('count', c.count)"])
    open_notebook(page, server, path)
    _run(page, cell)
    frame = _widget(page, cell)
    button = frame.locator("button.counter")
    expect(button).to_have_text("clicked 0 times", timeout=60_000)
    expect(button).to_have_css("border-top-color", "rgb(102, 51, 153)")  # its own _css
    button.click()
    button.click()
    expect(button).to_have_text("clicked 2 times")
    client = server.client()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the server has the clicks once the kernel echoed them
        counts = [m["state"].get("count") for m in client.view(path)["widgets"].values()
                  if m["model_name"] == "AnyModel"]
        if counts == [2]:
            break
        time.sleep(0.2)
    client.run_cells(path, [check])
    assert cell_text(client.view(path), check) == "count 2\n"
