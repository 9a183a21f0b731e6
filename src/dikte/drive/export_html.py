"""A notebook as one self-contained HTML page: code, rendered Markdown and outputs.

Nothing a notebook holds runs in the page itself. Markdown is rendered with raw HTML turned off;
HTML and JavaScript outputs go into ``<iframe sandbox="allow-scripts">`` frames without
``allow-same-origin``, as the notebook page shows them, so their scripts get an opaque origin and
cannot reach the page, its cookies or other files; SVG is shown through ``<img>``, where its
scripts never run. The only script of the page itself sizes those frames to their content.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterable
from typing import Any

from markdown_it import MarkdownIt
from nbformat import NotebookNode

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
_IMAGES = ("image/png", "image/jpeg", "image/gif", "image/webp")
# Richest first, as the notebook page ranks them.
_ORDER = ("application/javascript", "text/html", "text/markdown", "text/latex", "image/svg+xml",
          *_IMAGES, "application/json", "text/plain")
_MAX_FRAME_PX = 20000

_CSS = """
:root { color-scheme: light; --border: #dadce0; --muted: #5f6368; --code-bg: #f7f7f7; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #202124; background: #fff; }
main { max-width: 980px; margin: 0 auto; padding: 24px 16px 64px; }
h1.nb-name { font-size: 14px; font-weight: 500; color: var(--muted); margin: 0 0 16px; }
.cell { display: grid; grid-template-columns: 64px minmax(0, 1fr); gap: 0 8px; margin: 12px 0; }
.prompt { grid-column: 1; color: var(--muted); font: 12px/1.6 ui-monospace, monospace;
          text-align: right; padding-top: 8px; }
.body { grid-column: 2; min-width: 0; }
pre { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere;
      font: 13px/1.45 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
.source { background: var(--code-bg); border: 1px solid var(--border); border-radius: 4px;
          padding: 8px 10px; }
.outputs > * { margin-top: 6px; }
.stderr { background: #fdeded; }
.error { background: #fdeded; color: #a50e0e; padding: 4px 6px; }
.markdown img, .outputs img { max-width: 100%; }
.markdown table { border-collapse: collapse; }
.markdown th, .markdown td { border: 1px solid var(--border); padding: 4px 8px; }
.markdown pre { background: var(--code-bg); padding: 8px; border-radius: 4px; }
iframe.out-frame { display: block; width: 100%; height: 120px; border: 0; }
.hl .k, .hl .kn, .hl .kc, .hl .ow { color: #8430ce; }
.hl .s, .hl .s1, .hl .s2, .hl .sa, .hl .sd, .hl .si, .hl .se { color: #188038; }
.hl .c, .hl .c1, .hl .cm { color: #5f6368; font-style: italic; }
.hl .mi, .hl .mf, .hl .mh { color: #1967d2; }
.hl .nf, .hl .fm { color: #c5221f; }
.hl .nb, .hl .bp { color: #b06000; }
"""

# Sizes each output frame to the height its content reports (a frame's own script sends it).
_PAGE_SCRIPT = f"""
addEventListener("message", (e) => {{
  const h = e.data && e.data.dikteFrameHeight;
  if (typeof h !== "number") return;
  for (const f of document.querySelectorAll("iframe.out-frame")) {{
    if (f.contentWindow === e.source) f.style.height = Math.min(Math.ceil(h), {_MAX_FRAME_PX}) + "px";
  }}
}});
"""

_FRAME_SCRIPT = """<script>
(function () {
  function send() {
    var b = document.body;
    parent.postMessage({ dikteFrameHeight: b ? b.getBoundingClientRect().bottom + 8 : 0 }, "*");
  }
  addEventListener("load", send);
  if (window.ResizeObserver) new ResizeObserver(send).observe(document.documentElement);
})();
</script>"""


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False})
    md.enable(["table", "strikethrough"])
    return md


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return json.dumps(value, indent=2)


def _plain(text: str) -> str:
    return html.escape(_ANSI.sub("", text))


def _highlight(source: str) -> str:
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:  # pragma: no cover - IPython brings pygments
        return html.escape(source)
    out: str = highlight(source, PythonLexer(), HtmlFormatter(nowrap=True))
    return out.rstrip("\n")


def _frame(body: str) -> str:
    doc = ('<!doctype html><html><head><meta charset="utf-8"></head>'
           f"<body>{body}{_FRAME_SCRIPT}</body></html>")
    return (f'<iframe class="out-frame" sandbox="allow-scripts" title="Output" '
            f'srcdoc="{html.escape(doc, quote=True)}"></iframe>')


def _attachments(source: str, cell: NotebookNode) -> str:
    """Markdown's ``attachment:name`` images as data: URIs from the cell's attachments."""
    found = cell.get("attachments") or {}

    def swap(m: re.Match[str]) -> str:
        bundle = found.get(m.group(1)) or {}
        for mime in _IMAGES:
            if mime in bundle:
                return f"data:{mime};base64,{_text(bundle[mime]).strip()}"
        return m.group(0)

    return re.sub(r"attachment:([^)\s\"']+)", swap, source) if found else source


def _rich(data: dict[str, Any], md: MarkdownIt) -> str:
    mime = next((m for m in _ORDER if m in data), None)
    if mime is None:
        return ""
    value = _text(data[mime])
    if mime == "application/javascript":
        return _frame(f"<script>{value}</script>")
    if mime == "text/html":
        return _frame(value)
    if mime == "text/markdown":
        return f'<div class="markdown">{md.render(value)}</div>'
    if mime == "image/svg+xml":
        encoded = base64.b64encode(value.encode()).decode()
        return f'<img alt="" src="data:image/svg+xml;base64,{encoded}">'
    if mime in _IMAGES:
        return f'<img alt="" src="data:{mime};base64,{"".join(value.split())}">'
    return f"<pre>{_plain(value)}</pre>"


def _output(out: NotebookNode, md: MarkdownIt) -> str:
    kind = out.get("output_type")
    if kind == "stream":
        name = "stderr" if out.get("name") == "stderr" else "stdout"
        return f'<pre class="{name}">{_plain(_text(out.get("text", "")))}</pre>'
    if kind == "error":
        trace = "\n".join(out.get("traceback") or []) or f"{out.get('ename')}: {out.get('evalue')}"
        return f'<pre class="error">{_plain(trace)}</pre>'
    return _rich(dict(out.get("data") or {}), md)


def _cell(cell: NotebookNode, md: MarkdownIt) -> Iterable[str]:
    kind = cell.get("cell_type")
    source = _text(cell.get("source", ""))
    if kind == "markdown":
        yield ('<div class="cell text"><div class="prompt"></div>'
               f'<div class="body markdown">{md.render(_attachments(source, cell))}</div></div>')
        return
    if kind != "code":
        yield (f'<div class="cell raw"><div class="prompt"></div>'
               f'<div class="body"><pre>{html.escape(source)}</pre></div></div>')
        return
    count = cell.get("execution_count")
    yield f'<div class="cell code"><div class="prompt">[{count if count is not None else " "}]</div>'
    yield f'<div class="body"><pre class="source hl">{_highlight(source)}</pre>'
    outputs = [_output(o, md) for o in cell.get("outputs", [])]
    if outputs:
        yield '<div class="outputs">' + "".join(outputs) + "</div>"
    yield "</div></div>"


def to_html(nb: NotebookNode, title: str) -> str:
    """The whole notebook as one HTML page (no files beside it, nothing fetched)."""
    md = _markdown()
    cells = "\n".join("".join(_cell(c, md)) for c in nb.get("cells", []))
    name = html.escape(title)
    return (
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{name}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        f"<h1 class=\"nb-name\">{name}</h1>\n{cells}\n</main>\n"
        f"<script>{_PAGE_SCRIPT}</script>\n</body>\n</html>\n"
    )
