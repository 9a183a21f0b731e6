"""Colab forms in a real browser: the form beside (or below) the code, each kind of field
rewriting its source line, the values reaching the kernel, hide code stored as Colab's
``cellView``, another tab following, and ``run: "auto"``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import sign_in
from tests.e2e.test_notebook import LONG, cell, open_notebook, output
from tests.support.server import Client, DikteServer

ALL_FIELDS = '''\
# @title Training settings
# @markdown Pick **values** for the run:
text = "value"  # @param {type:"string"}
choice = "b"  # @param ["a", "b", "c"]
free = "x"  # @param ["x", "y"] {allow-input: true}
ratio = 0.5  #@param {type:"number"}
count = 3  # @param {type:"integer"}
steps = 4  # @param {type:"slider", min:0, max:10, step:1}
flag = True  # @param {type:"boolean"}
day = "2024-01-31"  # @param {type:"date"}
shape = (2, 2)  # @param {type:"raw"}
print(repr((text, choice, free, ratio, count, steps, flag, day, shape)))'''


def form(page: Page, cell_id: str) -> Locator:
    return page.locator(f'[data-form-for="{cell_id}"]')


def field(page: Page, cell_id: str, name: str) -> Locator:
    return form(page, cell_id).locator(f'[data-field="{name}"]')


def source(client: Client, path: str, cell_id: str) -> str:
    for c in client.view(path)["notebook"]["cells"]:
        if c["id"] == cell_id:
            return str(c["source"])
    raise KeyError(cell_id)


def metadata(client: Client, path: str, cell_id: str) -> dict[str, Any]:
    for c in client.view(path)["notebook"]["cells"]:
        if c["id"] == cell_id:
            return dict(c["metadata"])
    raise KeyError(cell_id)


def until(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    """Poll the server until ``check`` holds (edits are sent after a short pause)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.1)


def test_every_kind_of_field_rewrites_its_line_and_reaches_the_kernel(
        page: Page, server: DikteServer) -> None:
    client = server.client()
    path = "Notebooks/form-fields.ipynb"
    (cid,) = client.new_notebook(path, [ALL_FIELDS])
    open_notebook(page, server, path)
    f = form(page, cid)
    expect(f).to_be_visible()
    expect(f.locator(".form-title")).to_have_text("Training settings")
    expect(f.locator(".form-markdown strong")).to_have_text("values")
    # beside the code on a wide page
    code_box = cell(page, cid).locator(".cell-code").bounding_box()
    form_box = f.bounding_box()
    assert code_box and form_box and form_box["x"] >= code_box["x"] + code_box["width"] - 1

    expect(field(page, cid, "text")).to_have_value("value")
    field(page, cid, "text").fill('he said "hi"')
    field(page, cid, "choice").select_option("c")
    field(page, cid, "free").fill("zeta")
    field(page, cid, "ratio").fill("0.25")
    field(page, cid, "count").fill("7")
    field(page, cid, "steps").focus()
    page.keyboard.press("ArrowRight")  # one step up: 5
    expect(form(page, cid).locator(".form-slider output")).to_have_text("5")
    field(page, cid, "flag").uncheck()
    field(page, cid, "day").fill("2024-02-29")
    field(page, cid, "shape").fill("[1, 2, 3]")
    field(page, cid, "shape").press("Enter")

    expected = [
        'text = "he said \\"hi\\""  # @param {type:"string"}',
        'choice = "c"  # @param ["a", "b", "c"]',
        'free = "zeta"  # @param ["x", "y"] {allow-input: true}',
        'ratio = 0.25  #@param {type:"number"}',
        'count = 7  # @param {type:"integer"}',
        'steps = 5  # @param {type:"slider", min:0, max:10, step:1}',
        'flag = False  # @param {type:"boolean"}',
        'day = "2024-02-29"  # @param {type:"date"}',
        'shape = [1, 2, 3]  # @param {type:"raw"}',
    ]
    editor = cell(page, cid).locator(".cm-content")
    for line in expected:
        expect(editor).to_contain_text(line)
    until(lambda: all(line in source(client, path, cid).splitlines() for line in expected),
          "the rewritten lines are saved")

    cell(page, cid).locator(".run-btn").click()
    expect(output(page, cid)).to_contain_text(
        """('he said "hi"', 'c', 'zeta', 0.25, 7, 5, False, '2024-02-29', [1, 2, 3])""",
        timeout=LONG)


def test_a_value_that_cannot_be_written_leaves_the_source_alone_and_ctrl_enter_runs(
        page: Page, server: DikteServer) -> None:
    client = server.client()
    path = "Notebooks/form-invalid.ipynb"
    (cid,) = client.new_notebook(path, ['n = 4  # @param {type:"integer"}\nprint(n)'])
    open_notebook(page, server, path)
    field(page, cid, "n").fill("2.5")  # not an integer: the line keeps 4
    field(page, cid, "n").blur()
    expect(field(page, cid, "n")).to_have_value("4")
    field(page, cid, "n").fill("12")
    field(page, cid, "n").press("Control+Enter")  # runs the cell with the new value
    expect(output(page, cid)).to_contain_text("12", timeout=LONG)
    until(lambda: source(client, path, cid).startswith("n = 12  # @param"), "12 is saved")


def test_narrow_cells_show_the_form_below_the_code(
        new_page: Callable[..., Page], server: DikteServer) -> None:
    client = server.client()
    path = f"Notebooks/form-narrow-{time.monotonic_ns()}.ipynb"
    (cid,) = client.new_notebook(path, ['x = "a"  # @param ["a", "b"]'])
    page = new_page(width=560, height=800)
    sign_in(page, server)
    open_notebook(page, server, path)
    expect(form(page, cid)).to_be_visible()
    expect(cell(page, cid).locator(".cm-content")).to_contain_text("@param")
    code_box = cell(page, cid).locator(".cell-code").bounding_box()
    form_box = form(page, cid).bounding_box()
    assert code_box and form_box and form_box["y"] >= code_box["y"] + code_box["height"] - 1


def test_hide_code_is_stored_as_cell_view_and_followed_by_another_tab(
        page: Page, new_page: Callable[..., Page], server: DikteServer) -> None:
    client = server.client()
    path = "Notebooks/form-hide.ipynb"
    (cid,) = client.new_notebook(path, ['# @title Greeting\nname = "Ada"  # @param {type:"string"}\n'
                                        'print("Hello", name)'])
    open_notebook(page, server, path)
    other = new_page()
    sign_in(other, server)
    open_notebook(other, server, path)
    expect(cell(other, cid).locator(".cell-code")).to_be_visible()

    form(page, cid).get_by_role("button", name="Hide code").click()
    expect(cell(page, cid).locator(".cell-code")).to_have_count(0)
    expect(form(page, cid)).to_have_class("cell-form form-only")
    until(lambda: metadata(client, path, cid).get("cellView") == "form", "cellView is form")
    expect(cell(other, cid).locator(".cell-code")).to_have_count(0)

    # the other tab edits the field; this tab's form follows
    field(other, cid, "name").fill("Grace")
    expect(field(page, cid, "name")).to_have_value("Grace")
    until(lambda: 'name = "Grace"' in source(client, path, cid), "Grace is saved")

    # run with the code hidden, then show it again
    cell(page, cid).locator(".run-btn").click()
    expect(output(page, cid)).to_contain_text("Hello Grace", timeout=LONG)
    form(page, cid).get_by_role("button", name="Show code").click()
    expect(cell(page, cid).locator(".cell-code")).to_be_visible()
    until(lambda: metadata(client, path, cid).get("cellView") == "both", "cellView is both")


def test_display_mode_form_opens_with_the_code_hidden(page: Page, server: DikteServer) -> None:
    client = server.client()
    path = "Notebooks/form-display-mode.ipynb"
    (cid,) = client.new_notebook(path, [
        '#@title Setup { display-mode: "form" }\n#@markdown Nothing to change here.\nx = 1'])
    open_notebook(page, server, path)
    expect(form(page, cid).locator(".form-title")).to_have_text("Setup")
    expect(form(page, cid).locator(".form-markdown")).to_have_text("Nothing to change here.")
    expect(cell(page, cid).locator(".cell-code")).to_have_count(0)
    form(page, cid).get_by_role("button", name="Show code").click()
    expect(cell(page, cid).locator(".cm-content")).to_contain_text("x = 1")


def test_run_auto_runs_the_cell_again_when_a_field_changes(page: Page, server: DikteServer) -> None:
    client = server.client()
    path = "Notebooks/form-auto.ipynb"
    (cid,) = client.new_notebook(path, [
        '# @title Pick one { run: "auto" }\nopt = "A"  # @param ["A", "B", "C"]\nprint("picked", opt)'])
    open_notebook(page, server, path)
    field(page, cid, "opt").select_option("B")  # never ran: no run yet
    cell(page, cid).locator(".run-btn").click()
    expect(output(page, cid)).to_contain_text("picked B", timeout=LONG)
    field(page, cid, "opt").select_option("C")
    expect(output(page, cid)).to_contain_text("picked C", timeout=LONG)
    expect(cell(page, cid).locator(".exec-count")).to_have_text("[2]")


EDGE_CASES = '''\
color = "#ff0000"  # @param {type:"string"}
single = 'it\\'s'  #@param {type:"string"}
typed: int = 5  # @param {type:"integer"}
pick = raw_value  # @param [1, "raw_value", "'quoted'"] {type:"raw"}
bad = 1  # @param {type:"slider", min:5, max:0}
same == 1  # @param {type:"integer"}
    indented = 1  # @param {type:"integer"}
note = "# @param is only a comment here"
print(color)'''


def test_the_form_reads_colab_syntax_and_its_corners(page: Page, server: DikteServer) -> None:
    client = server.client()
    path = "Notebooks/form-corners.ipynb"
    (cid,) = client.new_notebook(path, [EDGE_CASES])
    open_notebook(page, server, path)
    expect(field(page, cid, "color")).to_have_value("#ff0000")
    expect(field(page, cid, "single")).to_have_value("it's")
    expect(field(page, cid, "typed")).to_have_value("5")
    expect(field(page, cid, "pick")).to_have_value("raw_value")
    expect(field(page, cid, "pick").locator("option")).to_have_text(["1", "raw_value", "'quoted'"])
    # a @param that cannot be read is said, and the lines that are not fields make none
    expect(form(page, cid).locator(".form-bad-line")).to_contain_text("bad")
    expect(form(page, cid).locator("[data-field]")).to_have_count(4)

    field(page, cid, "color").fill("#00ff00")
    field(page, cid, "single").fill("back\\slash")
    field(page, cid, "typed").fill("-3")
    field(page, cid, "pick").select_option("'quoted'")
    expected = ['color = "#00ff00"  # @param {type:"string"}',
                'single = "back\\\\slash"  #@param {type:"string"}',
                'typed: int = -3  # @param {type:"integer"}',
                '''pick = 'quoted'  # @param [1, "raw_value", "'quoted'"] {type:"raw"}''']
    until(lambda: all(line in source(client, path, cid).splitlines() for line in expected),
          "the rewritten lines are saved")
    rest = source(client, path, cid).splitlines()[4:]
    assert rest == EDGE_CASES.splitlines()[4:]  # the other lines are untouched


def test_typing_a_title_keeps_the_editor_and_every_keystroke(page: Page,
                                                             server: DikteServer) -> None:
    """Typing `#@title` made the cell a form and dropped the editor: what came next was lost."""
    client = server.client()
    path = f"Notebooks/form-typing-{time.monotonic_ns()}.ipynb"
    (cid,) = client.new_notebook(path, [""])
    open_notebook(page, server, path)
    editor = cell(page, cid).locator(".cm-content")
    editor.click()
    typed = ('#@title My settings { display-mode: "form" }\n'
             'rate = 0.5 #@param {type:"number"}\nprint(rate)')
    page.keyboard.type(typed)
    expect(form(page, cid).locator(".form-title")).to_have_text("My settings")
    expect(editor).to_be_focused()
    until(lambda: source(client, path, cid) == typed, "every keystroke in the saved source")
    # leaving the cell: the form shows alone, as its display-mode asks
    page.keyboard.press("Escape")
    expect(cell(page, cid).locator(".cell-code")).to_have_count(0)


def test_ctrl_m_m_and_y_keep_the_cell_focused(page: Page, server: DikteServer) -> None:
    client = server.client()
    path = f"Notebooks/form-chords-{time.monotonic_ns()}.ipynb"
    (cid,) = client.new_notebook(path, ["x = 1"])
    open_notebook(page, server, path)
    cell(page, cid).locator(".cm-content").click()
    page.keyboard.press("Control+m")
    page.keyboard.press("m")
    expect(cell(page, cid)).to_have_attribute("data-cell-type", "markdown")
    # the text cell's editor has the cursor: typing goes on into it
    expect(cell(page, cid).locator(".cm-content")).to_be_focused()
    page.keyboard.press("End")
    page.keyboard.type(" more")
    until(lambda: source(client, path, cid) == "x = 1 more", "typing after Ctrl+M M")
    page.keyboard.press("Control+m")
    page.keyboard.press("y")
    expect(cell(page, cid)).to_have_attribute("data-cell-type", "code")
    expect(cell(page, cid).locator(".cm-content")).to_be_focused()  # the new code editor
    page.keyboard.type("!")
    until(lambda: source(client, path, cid) == "x = 1 more!", "typing after Ctrl+M Y")
    # from command mode (Escape), the cell itself keeps the focus
    page.keyboard.press("Escape")
    page.keyboard.press("Control+m")
    page.keyboard.press("m")
    expect(cell(page, cid)).to_have_attribute("data-cell-type", "markdown")
    expect(cell(page, cid)).to_be_focused()
