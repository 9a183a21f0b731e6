"""Markdown cells are sanitized by DOMPurify (frontend/src/notebook/markdown.tsx): payloads that
try to get script past it, in a real browser against a real server.

Each payload, if it ran, would set ``window.__xss`` to its number. Besides watching for that, the
rendered DOM is searched for what could run script later (event handler attributes, script-bearing
elements, javascript: URLs), so a payload that needs a click or a timer to fire still fails.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.support.server import DikteServer

ROOT = Path(__file__).resolve().parents[2]
PATH = "Notebooks/sanitizer.ipynb"

PAYLOADS = [
    '<script>window.__xss = 1</script>',
    '<img src=x onerror="window.__xss = 2">',
    '<a href="jav&#x09;ascript:window.__xss = 3">tabbed scheme</a>',
    '<a href="&#106;avascript:window.__xss = 4">entity scheme</a>',
    '[markdown link](javascript:window.__xss=5)',
    '<svg><animate onbegin="window.__xss = 6" attributeName="x" dur="1s"></animate></svg>',
    '<iframe srcdoc="<script>parent.__xss = 7</script>"></iframe>',
    # mutation XSS: markup that parses differently once serialized and parsed again
    '<svg></p><style><a id="</style><img src=1 onerror=window.__xss=8>">',
    '<math><mtext><table><mglyph><style><!--</style><img title="--&gt;&lt;/mglyph&gt;&lt;img'
    '&Tab;src=1&Tab;onerror=window.__xss=9&gt;">',
    '<form><math><mtext></form><form><mglyph><style></math><img src onerror=window.__xss=10>',
    '<noscript><p title="</noscript><img src=x onerror=window.__xss=11>"></noscript>',
    '<template><img src=x onerror="window.__xss = 12"></template>',
    '<details open ontoggle="window.__xss = 13"><summary>toggle</summary>x</details>',
    '<object data="javascript:window.__xss=14"></object><embed src="javascript:window.__xss=15">',
    '<meta http-equiv="refresh" content="0;url=javascript:window.__xss=16">',
    '<a href="data:text/html,<script>window.__xss=17</script>">data link</a>',
    '<input autofocus onfocus="window.__xss = 18"><button formaction="javascript:0">b</button>',
    '<div style="position:fixed;inset:0;background:red" onclick="window.__xss = 19">cover</div>',
    '<math><maction actiontype="statusline" xlink:href="javascript:window.__xss=20">m</maction>'
    '</math>',
    '<base href="javascript:/"><a href="/x">relative after base</a>',
]

DOT = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAE"
       "hQGAhKmMIQAAAABJRU5ErkJggg==")
KEPT = f"""# Kept heading

A [site](https://example.com/page), a [protocol-relative one](//example.org/x),
an [anchor](#Kept-heading), $x^2$ and $E[X]>0$ (which looks like markup breaking out).

- [x] done
- [ ] to do

```python
print("hi")
```

<img alt="dot" src="{DOT}">
<b>bold</b> <kbd>Ctrl</kbd> <sub>2</sub>
"""

# What no sanitized Markdown may hold, as one querySelectorAll (svg and math included: KaTeX's own
# MathML is added after sanitizing and lives only inside .katex).
FORBIDDEN = ("script, style, iframe, frame, object, embed, form, button, textarea, select, meta, "
             "base, link, template, noscript, svg, math:not(.katex math), input:not([type=checkbox])")
DANGER_JS = """root => {
  const found = [];
  for (const el of root.querySelectorAll('*')) {
    for (const a of el.attributes) {
      const v = a.value.replace(/[\\u0000-\\u0020]/g, '').toLowerCase();
      if (a.name.startsWith('on') || a.name === 'srcdoc' || a.name === 'formaction'
          || a.name === 'style' || v.startsWith('javascript:')
          || (v.startsWith('data:') && !(el.localName === 'img' && a.name === 'src'
                                         && v.startsWith('data:image/'))))
        found.push(el.localName + '[' + a.name + '=' + a.value + ']');
    }
  }
  return found;
}"""


@pytest.fixture(scope="module")
def cells(server: DikteServer) -> list[str]:
    client = server.client()
    client.post("/api/notebooks", {"path": PATH})
    first = client.view(PATH)["notebook"]["cells"][0]["id"]
    ops: list[dict[str, Any]] = [{"op": "delete", "cell_id": first}]
    ops += [{"op": "insert", "cell_type": "markdown", "source": s} for s in [KEPT, *PAYLOADS]]
    return list(client.post("/api/notebooks/edit", {"path": PATH, "ops": ops})["inserted"])


def open_notebook(page: Page, server: DikteServer, cells: list[str]) -> list[Locator]:
    page.goto(f"{server.url}/#/notebook/{quote(PATH)}")
    rendered = [page.locator(f"[data-cell-id='{c}'] .markdown") for c in cells]
    for md in rendered:
        expect(md).to_be_attached()
    expect(rendered[0].locator(".katex")).to_have_count(2)  # KaTeX ran (it loads lazily)
    page.wait_for_function("[...document.images].every(i => i.complete)")  # onerror had its go
    return rendered


def test_no_payload_gets_script_past_the_sanitizer(page: Page, server: DikteServer,
                                                   cells: list[str]) -> None:
    rendered = open_notebook(page, server, cells)
    for payload, md in zip(PAYLOADS, rendered[1:], strict=True):
        assert md.locator(FORBIDDEN).count() == 0, (payload, md.inner_html())
        assert md.evaluate(DANGER_JS) == [], (payload, md.inner_html())
    for name in ("tabbed scheme", "entity scheme", "markdown link", "data link", "cover"):
        page.get_by_text(name, exact=True).click()
    assert page.evaluate("window.__xss") is None
    assert page.url.startswith(server.url)  # no refresh or javascript: navigation happened


def test_ordinary_markdown_survives_and_links_open_apart(page: Page, server: DikteServer,
                                                         cells: list[str]) -> None:
    md = open_notebook(page, server, cells)[0]
    expect(md.locator("h1")).to_have_attribute("id", "Kept-heading")
    expect(md.locator(".katex-mathml annotation").last).to_have_text("E[X]>0")
    expect(md.locator("code.language-python")).to_have_text('print("hi")')
    boxes = md.locator("input[type=checkbox]")
    expect(boxes).to_have_count(2)
    expect(boxes.first).to_be_checked()
    expect(boxes.first).to_be_disabled()
    expect(md.locator("img[alt=dot]")).to_have_attribute("src", DOT)
    expect(md.locator("b")).to_have_text("bold")
    expect(md.locator("kbd")).to_have_text("Ctrl")
    # every link that leaves the page opens in a tab of its own that cannot reach back
    for name in ("site", "protocol-relative one"):
        link = md.get_by_role("link", name=name, exact=True)
        expect(link).to_have_attribute("target", "_blank")
        expect(link).to_have_attribute("rel", "noopener noreferrer")
    anchor = md.get_by_role("link", name="anchor", exact=True)
    expect(anchor).to_have_attribute("href", "#Kept-heading")
    expect(anchor).not_to_have_attribute("target", "_blank")


def test_the_sanitizer_is_dompurify_not_a_hand_written_allowlist() -> None:
    """Prefer the maintained library (issue 10): it follows the browsers' parsers, which a
    hand-written allowlist of tags does not."""
    package = json.loads((ROOT / "frontend" / "package.json").read_text())
    assert package["dependencies"].get("dompurify", "").startswith("3."), package["dependencies"]
    lock = json.loads((ROOT / "frontend" / "package-lock.json").read_text())
    assert "node_modules/dompurify" in lock["packages"]
    source = (ROOT / "frontend" / "src" / "notebook" / "markdown.tsx").read_text()
    assert 'from "dompurify"' in source
    assert "sanitizeChildren" not in source and "const ALLOW" not in source
