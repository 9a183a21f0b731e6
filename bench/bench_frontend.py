"""The web app's speed, measured in Debian's chromium against a real `dikte serve`.

Prints, in one run:
  - the JavaScript a first visit loads (gzipped), and the lazily loaded chunks apart;
  - time to interactive of the notebook page (navigation start -> cells rendered and an editor
    accepting a keystroke), on localhost;
  - a 500-cell notebook: time until every cell is rendered, and frame gaps while scrolling it;
  - a cell printing 200,000 lines: time until the page shows the cell finished, against raw
    jupyter_client running the same cell to idle in this process (the baseline), and the longest
    stall of the page's main thread meanwhile.

Usage: .venv/bin/python bench/bench_frontend.py [--json FILE]
Asserts nothing. The server's runtimes are disconnected before it stops.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jupyter_client.manager import KernelManager
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.server import DikteServer  # noqa: E402

STATIC = ROOT / "src" / "dikte" / "static"
LINES = 200_000

FRAME_PROBE = """
() => { window.__gaps = []; let last = performance.now();
  const tick = (t) => { window.__gaps.push(t - last); last = t;
    if (!window.__stop) requestAnimationFrame(tick); };
  window.__stop = false; requestAnimationFrame(tick); }
"""


def bundle_sizes() -> dict[str, Any]:
    index = (STATIC / "index.html").read_text()
    initial = set(re.findall(r'(?:src|href)="/(assets/[^"]+\.js)"', index))
    sizes: dict[str, Any] = {"initial": {}, "lazy": {}}
    for js in sorted((STATIC / "assets").glob("*.js")):
        rel = f"assets/{js.name}"
        gz = len(gzip.compress(js.read_bytes(), 9))
        sizes["initial" if rel in initial else "lazy"][js.name] = gz
    sizes["initial_total"] = sum(sizes["initial"].values())
    return sizes


def raw_kernel_lines() -> float:
    km = KernelManager()
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(60)
        t0 = time.perf_counter()
        msg_id = kc.execute(f"for i in range({LINES}): print(i)")
        while True:
            msg = kc.get_iopub_msg(timeout=120)
            if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
                    and msg["content"]["execution_state"] == "idle"):
                return time.perf_counter() - t0
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def sign_in(page: Page, srv: DikteServer) -> None:
    page.goto(srv.url + "/")
    page.get_by_label("Access token").fill(srv.token)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Access token").wait_for(state="detached")


def time_to_interactive(page: Page, srv: DikteServer, path: str) -> float:
    page.goto("about:blank")
    page.goto(f"{srv.url}/#/notebook/{path}")
    page.locator("[data-cell-id] .cm-content").first.click()
    page.keyboard.type("#")
    page.locator("[data-cell-id] .cm-content").first.filter(has_text="#").wait_for()
    return float(page.evaluate("performance.now()")) / 1000


def gaps(page: Page) -> dict[str, float]:
    page.evaluate("window.__stop = true")
    values = sorted(page.evaluate("window.__gaps")[1:])
    if not values:
        return {"frames": 0, "p50_ms": 0.0, "p95_ms": 0.0, "max_ms": 0.0}
    return {"frames": len(values), "p50_ms": statistics.median(values),
            "p95_ms": values[int(0.95 * (len(values) - 1))], "max_ms": values[-1]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None or not (STATIC / "index.html").exists():
        print("needs Debian's chromium and the built web app (./test.sh installs both)")
        return 2
    results: dict[str, Any] = {"bundle": bundle_sizes()}
    tmp = Path(tempfile.mkdtemp(prefix="dikte-bench-web-"))
    srv = DikteServer(tmp / "data").start()
    try:
        client = srv.client()
        client.new_notebook("Notebooks/small.ipynb", ["x = 1", "print(x)", "x + 1"])
        client.new_notebook("Notebooks/big.ipynb", [f"# cell {i}\nvalue_{i} = {i}" for i in range(500)])
        (flood,) = client.new_notebook("Notebooks/flood.ipynb", [f"for i in range({LINES}): print(i)"])
        client.post("/api/notebooks/connect", {"path": "Notebooks/flood.ipynb"})
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium,
                                         args=["--disable-gpu", "--disable-quic"])
            page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            sign_in(page, srv)
            tti = [time_to_interactive(page, srv, "Notebooks/small.ipynb") for _ in range(5)]
            results["tti_s"] = {"samples": tti, "p50": statistics.median(tti)}

            page.goto("about:blank")
            t0 = time.perf_counter()
            page.goto(f"{srv.url}/#/notebook/Notebooks/big.ipynb")
            page.locator("[data-cell-id]").nth(499).wait_for(state="attached", timeout=120_000)
            results["open_500_cells_s"] = time.perf_counter() - t0
            page.evaluate(FRAME_PROBE)
            for _ in range(120):  # a fast flick: ~100 px a frame for two seconds
                page.mouse.wheel(0, 100)
                page.wait_for_timeout(16)
            results["scroll_500_cells"] = gaps(page)

            page.goto(f"{srv.url}/#/notebook/Notebooks/flood.ipynb")
            page.locator(f'[data-cell-id="{flood}"]').wait_for()
            page.evaluate(FRAME_PROBE)
            t0 = time.perf_counter()
            client.post("/api/notebooks/run", {"path": "Notebooks/flood.ipynb", "cell_ids": [flood]})
            cell = page.locator(f'[data-cell-id="{flood}"]')
            cell.locator('.run-btn[data-state="running"]').wait_for(timeout=60_000)
            cell.locator('.run-btn[data-state="idle"]').wait_for(timeout=180_000)
            cell.get_by_text("Output truncated").wait_for()
            dikte_lines = time.perf_counter() - t0
            results["lines_200k"] = {"dikte_page_s": dikte_lines, "frames": gaps(page)}
            browser.close()
        raw = raw_kernel_lines()
        results["lines_200k"]["raw_jupyter_client_s"] = raw
        results["lines_200k"]["ratio"] = dikte_lines / raw
    finally:
        srv.close()
        shutil.rmtree(tmp, ignore_errors=True)

    b = results["bundle"]
    print(f"Dikte web app, {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"JavaScript of a first visit (gzipped): {b['initial_total'] / 1024:.0f} KiB "
          f"({', '.join(f'{k} {v / 1024:.0f} KiB' for k, v in b['initial'].items())})")
    print(f"loaded lazily: {', '.join(f'{k} {v / 1024:.0f} KiB' for k, v in b['lazy'].items())}")
    print(f"time to interactive (notebook page, localhost): p50 {results['tti_s']['p50']:.2f} s "
          f"(samples {', '.join(f'{t:.2f}' for t in results['tti_s']['samples'])})")
    s = results["scroll_500_cells"]
    print(f"500-cell notebook: all cells rendered in {results['open_500_cells_s']:.2f} s; "
          f"scrolling: {s['frames']} frames, gap p50 {s['p50_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms, "
          f"max {s['max_ms']:.0f} ms")
    f = results["lines_200k"]
    print(f"200,000-line cell: page shows the finished cell after {f['dikte_page_s']:.2f} s; raw "
          f"jupyter_client to idle {f['raw_jupyter_client_s']:.2f} s; ratio {f['ratio']:.2f}x; "
          f"page frames meanwhile: p95 {f['frames']['p95_ms']:.1f} ms, "
          f"longest {f['frames']['max_ms']:.0f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
