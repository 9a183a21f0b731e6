"""Downloading a notebook as .py and HTML: the percent script stays valid Python, and nothing a
notebook holds runs in the exported page itself."""

from __future__ import annotations

import base64
import html
import re
from typing import Any

import nbformat
import pytest

from dikte.drive import notebooks
from dikte.drive.export import export, to_py


def notebook(*cells: Any) -> Any:
    nb = notebooks.empty()
    nb.cells = list(cells)
    return notebooks.check(nb, "t.ipynb")


def code(source: str, outputs: list[Any] | None = None, count: int | None = None) -> Any:
    cell = nbformat.v4.new_code_cell(source, execution_count=count)
    cell.outputs = outputs or []
    return cell


def md(source: str, **extra: Any) -> Any:
    cell = nbformat.v4.new_markdown_cell(source)
    cell.update(extra)
    return cell


def test_py_is_a_percent_script_with_markdown_as_comments() -> None:
    nb = notebook(md("# Title\n\nSome *text*"), code("x = 1\nprint(x)"),
                  nbformat.v4.new_raw_cell("raw text"))
    text = to_py(nb)
    assert "# %% [markdown]\n# # Title\n#\n# Some *text*\n" in text
    assert "# %%\nx = 1\nprint(x)\n" in text
    assert "# %% [raw]\n# raw text\n" in text
    compile(text, "t.py", "exec")


@pytest.mark.parametrize(("source", "expected"), [
    ("!pip install tqdm", "# !pip install tqdm"),
    ("%cd /content", "# %cd /content"),
    ("files = !ls", "# files = !ls"),
    ("if True:\n    !echo hi\n    x = 1", "if True:\n    # !echo hi\n    x = 1"),
    ("s = ('%d'\n     % 3)", "s = ('%d'\n     % 3)"),  # a continuation line is Python
    ("print('what?')", "print('what?')"),
    ("%%bash\necho 1\n\necho 2", "# %%bash\n# echo 1\n#\n# echo 2"),
])
def test_ipython_lines_are_commented_out(source: str, expected: str) -> None:
    text = to_py(notebook(code(source)))
    assert f"# %%\n{expected}\n" in text
    compile(text, "t.py", "exec")


def test_export_names_and_types() -> None:
    nb = notebook(code("1"))
    assert export(nb, "Notebooks/Week 1/Intro.ipynb", "py").filename == "Intro.py"
    out = export(nb, "Intro.ipynb", "ipynb")
    assert out.filename == "Intro.ipynb" and out.media_type == "application/x-ipynb+json"
    assert notebooks.parse(out.data, "x").cells[0].source == "1"
    assert export(nb, "Intro.ipynb", "html").media_type.startswith("text/html")


def page(*cells: Any) -> str:
    return export(notebook(*cells), "Notes.ipynb", "html").data.decode()


def frames(text: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<iframe [^>]*srcdoc="([^"]*)"', text)]


def test_html_renders_markdown_without_raw_html() -> None:
    text = page(md("# Hello\n\n<script>alert('md')</script> **bold** <img src=x onerror=alert(1)>"))
    assert "<h1>Hello</h1>" in text and "<strong>bold</strong>" in text
    assert "<script>alert" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert('md')&lt;/script&gt;" in text


def test_html_and_javascript_outputs_are_sandboxed() -> None:
    outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": "<b id=x>hi</b><script>top.x=1</script>",
                                                     "text/plain": "hi"}),
        nbformat.v4.new_output("display_data", data={"application/javascript": "document.title='js'"}),
    ]
    text = page(code("show()", outputs, 3))
    assert "[3]" in text
    srcdocs = frames(text)
    assert len(srcdocs) == 2
    assert "<b id=x>hi</b><script>top.x=1</script>" in srcdocs[0]
    assert "<script>document.title='js'</script>" in srcdocs[1]
    tags = re.findall(r"<iframe [^>]*>", text)
    assert all('sandbox="allow-scripts"' in t and "allow-same-origin" not in t for t in tags)
    # outside the frames, the page's only script is its own
    outside = re.sub(r'srcdoc="[^"]*"', "", text)
    assert outside.count("<script>") == 1 and "top.x" not in outside


def test_images_streams_and_errors() -> None:
    png = base64.b64encode(b"\x89PNG fake").decode()
    svg = '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="\x1b[31mred\x1b[0m <tag>\n"),
        nbformat.v4.new_output("stream", name="stderr", text="warn\n"),
        nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}),
        nbformat.v4.new_output("display_data", data={"image/svg+xml": svg}),
        nbformat.v4.new_output("error", ename="ValueError", evalue="bad",
                               traceback=["\x1b[0;31mValueError\x1b[0m: bad"]),
    ]
    text = page(code("run()", outputs))
    assert '<pre class="stdout">red &lt;tag&gt;\n</pre>' in text
    assert '<pre class="stderr">warn\n</pre>' in text
    assert f'src="data:image/png;base64,{png}"' in text
    assert "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode() in text
    assert "<script>alert(1)</script>" not in text
    assert '<pre class="error">ValueError: bad</pre>' in text


def test_markdown_attachments_become_data_uris() -> None:
    png = base64.b64encode(b"img").decode()
    text = page(md("![plot](attachment:plot.png)", attachments={"plot.png": {"image/png": png}}))
    assert f'<img src="data:image/png;base64,{png}" alt="plot"' in text
