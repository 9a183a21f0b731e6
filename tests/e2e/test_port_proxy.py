"""A web server started by a cell, shown with ``serve_kernel_port_as_iframe`` (and
``_as_window``) through the port proxy, in a real browser: the page arrives, loads its own
scripts through the proxy, and cannot read the app's cookies or call its API as the person."""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote

from playwright.sync_api import Page, expect

from tests.support.server import DikteServer

expect.set_options(timeout=30_000)  # a shared, busy machine: the runtime starts with the first run

PATH = "Notebooks/port-proxy-page.ipynb"
MARK = f"served-page-{uuid.uuid4().hex[:12]}"

PROBE_PAGE = "<!doctype html><meta charset=utf-8><h1>" + MARK + """</h1><p id=probe>waiting</p>
<p id=sub>no subresource</p><script src="app.js"></script><script>
const out = [];
try { out.push("cookie=[" + document.cookie + "]"); } catch (e) { out.push("cookie threw " + e.name); }
try { out.push("top=" + typeof top.document.body); } catch (e) { out.push("top threw " + e.name); }
document.getElementById("probe").textContent = out.join(" ");
fetch("/api/me", {credentials: "include"}).then(r => "status " + r.status, e => "failed " + e.name)
  .then(s => { const p = document.createElement("p"); p.id = "fetched"; p.textContent = "fetch " + s;
               document.body.appendChild(p); });
</script>"""

CELL = f"""
import http.server, threading
PAGE = {PROBE_PAGE!r}.encode()
SCRIPT = b'document.getElementById("sub").textContent = "subresource ok";'
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body, ctype = (SCRIPT, "text/javascript") if self.path.endswith("app.js") else (PAGE, "text/html")
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=httpd.serve_forever, daemon=True).start()
from google.colab import output
output.serve_kernel_port_as_iframe(httpd.server_address[1], height=240)
output.serve_kernel_port_as_window(httpd.server_address[1], anchor_text="Open the page")
"""


def _probe_is_sandboxed(text: str) -> None:
    assert "probe=visible" not in text and "dikte_session" not in text, text
    assert "cookie threw SecurityError" in text or "cookie=[]" in text, text


def test_a_served_port_shows_in_a_sandboxed_frame_and_window(page: Page,
                                                              server: DikteServer) -> None:
    # A cookie the app's own scripts could read: the served page must not see it.
    page.context.add_cookies([{"name": "probe", "value": "visible", "url": server.url}])
    (cell_id,) = server.client().new_notebook(PATH, [CELL])
    page.goto(f"{server.url}/#/notebook/{quote(PATH)}")
    cell = page.locator(f"[data-cell-id='{cell_id}']")
    cell.get_by_role("button", name="Run cell").click()

    frame_el = cell.locator("iframe.out-port-frame")
    expect(frame_el).to_have_attribute("src", re.compile(r"^/proxy/[^/]+/$"))
    sandbox = frame_el.get_attribute("sandbox") or ""
    assert "allow-scripts" in sandbox and "allow-same-origin" not in sandbox, sandbox
    assert (frame_el.get_attribute("style") or "").find("240px") >= 0
    frame = cell.frame_locator("iframe.out-port-frame")
    expect(frame.locator("h1")).to_have_text(MARK)
    expect(frame.locator("#sub")).to_have_text("subresource ok")  # its own requests pass
    probe = frame.locator("#probe")
    expect(probe).not_to_have_text("waiting")
    _probe_is_sandboxed(probe.text_content() or "")
    assert "top threw SecurityError" in (probe.text_content() or "")
    fetched = frame.locator("#fetched")
    expect(fetched).to_be_visible()
    result = fetched.text_content() or ""
    assert "failed" in result or "status 401" in result or "status 403" in result, result
    assert "probe=visible" in page.evaluate("document.cookie")  # the app itself could read it

    # The window: a top-level page, sandboxed by the proxy's Content-Security-Policy alone.
    with page.context.expect_page() as opened:
        cell.get_by_role("button", name="Open the page").click()
    window = opened.value
    expect(window.locator("h1")).to_have_text(MARK)
    assert "/proxy/" in window.url
    expect(window.locator("#probe")).not_to_have_text("waiting")
    _probe_is_sandboxed(window.locator("#probe").text_content() or "")
    expect(window.locator("#fetched")).to_be_visible()
    result = window.locator("#fetched").text_content() or ""
    assert "failed" in result or "status 401" in result or "status 403" in result, result
