"""How the notebook page renders outputs and Markdown (frontend/src/notebook/outputs.tsx,
markdown.tsx): ANSI colours, a tqdm bar, plots, rich MIME types, sandboxed HTML, tracebacks and
outputs too long to keep in the DOM.

One notebook for the module, its cells run once over the API; every test opens the page and
looks at its own cell (found by ``data-cell-id``; outputs by ``data-output-type`` / ``data-mime``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.support.server import DikteServer

expect.set_options(timeout=20_000)  # a shared, busy machine: the page loads with the runtime

PATH = "Notebooks/outputs.ipynb"

HTML_PROBE = r'''from IPython.display import HTML
HTML("""<p id="probe">waiting</p><script>
const out = [];
try { out.push("cookie=[" + document.cookie + "]"); } catch (e) { out.push("cookie threw " + e.name); }
try { out.push("parent=" + typeof parent.document.body); } catch (e) { out.push("parent threw " + e.name); }
document.getElementById("probe").textContent = out.join(" ");
fetch("/api/me", {credentials: "include"}).then(r => "status " + r.status, e => "failed " + e.name)
  .then(s => document.body.insertAdjacentHTML("beforeend", "<p id='fetched'>fetch " + s + "</p>"));
</script>""")'''

RICH = r'''from IPython.display import JSON, SVG, Javascript, Latex, Markdown, display
display(Latex(r"$$\int_0^1 x\,dx = \frac{1}{2}$$"))
display(SVG('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20">'
            '<rect width="40" height="20" fill="red"/></svg>'))
display(JSON({"answer": 42}))
display(Javascript("element.textContent = 'js ran ' + (6 * 7)"))
display(Markdown("## Sub heading with $x^2$"))'''

CODE = {
    "ansi": r'print("plain \033[31mred\033[0m and \033[1;32mgreen\033[0m <b>not bold</b>")',
    "tqdm": "from tqdm import tqdm\nimport sys\n"
            "_ = [None for _ in tqdm(range(100), file=sys.stdout, mininterval=0, ascii=True)]",
    "plot": "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.show()",
    "html": HTML_PROBE,
    "rich": RICH,
    "long": "for i in range(20000):\n    print(i)",
    "error": "def f():\n    return 1 / 0\nf()",  # last: an error cancels the cells queued after it
}
INPUT = 'name = input("Name: ")\nfrom getpass import getpass\nsecret = getpass("Secret: ")\n' \
        'print("hi", name, len(secret))'
MARKDOWN = "# Title\n\nEuler: $e^{i\\pi}+1=0$\n\n<script>window.pwned = 1</script>" \
           "<img src=x onerror=\"window.pwned = 2\"> [bad](javascript:window.pwned=3)"


@pytest.fixture(scope="module")
def cells(server: DikteServer) -> dict[str, str]:
    client = server.client()
    *ids, typing = client.new_notebook(PATH, [*CODE.values(), INPUT])  # INPUT runs in a test
    md = client.post("/api/notebooks/edit", {"path": PATH, "ops": [
        {"op": "insert", "cell_type": "markdown", "source": MARKDOWN}]})["inserted"][0]
    states = client.run_cells(PATH, ids, timeout=240)
    by_name = dict(zip(CODE, ids, strict=True))
    by_name["markdown"] = md
    by_name["input"] = typing
    failed = [n for n, s in zip(CODE, states, strict=True) if s["last_status"] != "ok"]
    assert failed == ["error"], states
    return by_name


def open_cell(page: Page, server: DikteServer, cell_id: str) -> Locator:
    page.goto(server.url + "/#/notebook/" + PATH)
    cell = page.locator(f"[data-cell-id='{cell_id}']")
    expect(cell).to_be_visible()
    return cell


def test_ansi_colours_become_coloured_spans_and_html_stays_text(
        page: Page, server: DikteServer, cells: dict[str, str]) -> None:
    cell = open_cell(page, server, cells["ansi"])
    stream = cell.locator("[data-output-type=stream][data-stream=stdout]")
    expect(stream).to_contain_text("plain red and green <b>not bold</b>")
    red = stream.locator("span", has_text="red")
    expect(red).to_have_count(1)
    colour = red.evaluate("e => getComputedStyle(e).color")
    plain = stream.locator("pre").evaluate("e => getComputedStyle(e).color")
    assert colour != plain
    r, g, b = (int(x) for x in colour[colour.index("(") + 1:-1].split(",")[:3])
    assert r > 150 and g < 100 and b < 100, colour
    green = stream.locator("span", has_text="green")
    assert int(green.evaluate("e => getComputedStyle(e).fontWeight")) >= 600
    expect(stream.locator("b")).to_have_count(0)  # escaped, not markup


def test_a_tqdm_bar_is_one_line_at_100_percent(page: Page, server: DikteServer,
                                               cells: dict[str, str]) -> None:
    cell = open_cell(page, server, cells["tqdm"])
    stream = cell.locator("[data-output-type=stream]")
    expect(stream).to_have_count(1)
    expect(stream).to_contain_text("100%")
    text = stream.locator("pre").text_content() or ""
    assert text.strip().count("\n") == 0, text
    assert "100/100" in text


def test_a_matplotlib_plot_is_an_image(page: Page, server: DikteServer,
                                       cells: dict[str, str]) -> None:
    cell = open_cell(page, server, cells["plot"])
    img = cell.locator("[data-mime='image/png'] img")
    expect(img).to_be_visible()
    assert img.evaluate("e => e.complete && e.naturalWidth") > 100
    assert (img.get_attribute("src") or "").startswith("data:image/png;base64,iVBOR")


def test_html_scripts_run_sandboxed_without_the_apps_cookies_or_api(
        page: Page, server: DikteServer, cells: dict[str, str]) -> None:
    # A cookie scripts of the app's origin could read; the frame must not see it.
    page.context.add_cookies([{"name": "probe", "value": "visible", "url": server.url}])
    cell = open_cell(page, server, cells["html"])
    frame_el = cell.locator("[data-mime='text/html'] iframe")
    expect(frame_el).to_have_attribute("sandbox", "allow-scripts")
    frame = cell.frame_locator("[data-mime='text/html'] iframe")
    probe = frame.locator("#probe")
    expect(probe).not_to_have_text("waiting")  # the script ran
    text = probe.text_content() or ""
    assert "probe=visible" not in text and "dikte_session" not in text, text
    assert "cookie threw SecurityError" in text or "cookie=[]" in text, text
    assert "parent threw SecurityError" in text, text
    fetched = frame.locator("#fetched")
    expect(fetched).to_be_visible()
    result = fetched.text_content() or ""
    assert "failed" in result or "status 401" in result or "status 403" in result, result
    # The frame sizes itself to its content through a numeric postMessage.
    page.wait_for_function(
        "e => { const h = e.getBoundingClientRect().height; return h > 30 && h < 400; }",
        arg=frame_el.element_handle())
    assert page.evaluate("document.cookie").find("probe=visible") >= 0  # the app could


def test_rich_outputs_latex_svg_json_javascript_markdown(
        page: Page, server: DikteServer, cells: dict[str, str], shot: Callable[[Page, str], Path]
) -> None:
    cell = open_cell(page, server, cells["rich"])
    expect(cell.locator("[data-mime='text/latex'] .katex")).to_be_visible()
    svg = cell.locator("[data-mime='image/svg+xml'] img")
    expect(svg).to_be_visible()
    assert (svg.get_attribute("src") or "").startswith("data:image/svg+xml;base64,")
    expect(cell.locator("[data-mime='image/svg+xml'] svg")).to_have_count(0)  # never inline
    expect(cell.locator("[data-mime='application/json']")).to_contain_text('"answer": 42')
    js = cell.frame_locator("[data-mime='application/javascript'] iframe")
    expect(js.locator("#output")).to_have_text("js ran 42")
    md = cell.locator("[data-mime='text/markdown']")
    expect(md.locator("h2")).to_contain_text("Sub heading with")
    expect(md.locator("h2 .katex")).to_have_count(1)
    cell.scroll_into_view_if_needed()
    shot(page, "outputs-rich")


def test_markdown_renders_headings_and_katex_and_drops_scripts(
        page: Page, server: DikteServer, cells: dict[str, str]) -> None:
    cell = open_cell(page, server, cells["markdown"])
    h1 = cell.locator("h1")
    expect(h1).to_have_text("Title")
    expect(h1).to_have_attribute("id", "Title")
    expect(cell.locator(".katex")).to_have_count(1)
    expect(cell.locator(".katex-mathml annotation")).to_have_text("e^{i\\pi}+1=0")
    expect(cell.locator("script")).to_have_count(0)
    expect(cell.locator("img")).not_to_have_attribute("onerror", "window.pwned = 2")
    link = cell.get_by_text("bad")
    assert "javascript" not in (link.get_attribute("href") or "")
    link.click()
    assert page.evaluate("window.pwned") is None


def test_an_error_shows_its_name_and_a_coloured_traceback(
        page: Page, server: DikteServer, cells: dict[str, str]) -> None:
    cell = open_cell(page, server, cells["error"])
    err = cell.locator("[data-output-type=error]")
    expect(err).to_contain_text("ZeroDivisionError: division by zero")
    expect(err.locator("pre")).to_contain_text("return 1 / 0")
    coloured = err.locator("pre span[class*='ansi-']")
    assert coloured.count() > 3


def test_a_20000_line_print_is_clipped_and_the_page_stays_responsive(
        page: Page, server: DikteServer, cells: dict[str, str]) -> None:
    cell = open_cell(page, server, cells["long"])
    stdout = cell.locator("[data-output-type=stream][data-stream=stdout]")
    show_all = stdout.get_by_role("button", name="Show all")
    expect(show_all).to_be_visible()
    expect(stdout).to_contain_text("earlier lines hidden")
    lines: Any = stdout.locator("pre").evaluate("e => e.textContent.split('\\n').length")
    assert lines <= 2001, lines  # the DOM holds the tail only
    box = stdout.locator(".out-scroll")
    assert box.evaluate("e => e.clientHeight") <= 620
    # The server kept 10,000 lines and said so on stderr.
    expect(cell.locator("[data-stream=stderr]")).to_contain_text("Output truncated")
    # Show all: the 10,000 lines the server kept come back.
    show_all.click()
    # the tail already held 9999: wait for the expanded output before reading its first line
    expect(stdout.get_by_role("button", name="Show all")).to_have_count(0)
    expect(stdout).not_to_contain_text("earlier lines hidden")
    expect(stdout.locator("pre")).to_contain_text("9999")
    first: Any = stdout.locator("pre").evaluate("e => e.textContent.slice(0, 4)")
    assert first == "0\n1\n"
    # Another control still answers at once.
    cell.hover()
    cell.get_by_role("button", name="Clear output").click()
    expect(cell.locator("[data-output-type]")).to_have_count(0)


def test_input_and_getpass_prompt_inline_and_enter_submits(
        page: Page, server: DikteServer, cells: dict[str, str]) -> None:
    cell = open_cell(page, server, cells["input"])
    cell.get_by_role("button", name="Run cell").click()
    name = cell.get_by_role("textbox", name="Name:")
    expect(name).to_be_focused(timeout=90_000)  # the cell may wait for a busy runtime first
    expect(name).to_have_attribute("type", "text")
    name.press_sequentially("bob")
    name.press("Enter")
    secret = cell.locator("[data-output-type=input_request] input[type=password]")
    expect(secret).to_be_focused()
    expect(cell.locator("[data-output-type=input_request]")).to_contain_text("Secret:")
    secret.press_sequentially("xyz")
    secret.press("Enter")
    expect(cell.locator("[data-output-type=stream]")).to_contain_text("hi bob 3")
    expect(cell.locator("[data-output-type=input_request]")).to_have_count(0)
