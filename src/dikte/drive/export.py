"""Download a notebook as ``.ipynb``, ``.py`` or HTML: pure functions from a document to bytes.

The ``.py`` form is the "percent" script that VS Code, Spyder, PyCharm and jupytext read as
cells: each cell starts with ``# %%`` (``# %% [markdown]`` for text, whose lines become
comments). IPython-only lines (``!pip install``, ``%cd``, ``x = !ls``, a ``%%bash`` cell) are
commented out the way jupytext does (``# !pip install x``), so the script stays valid Python and
jupytext restores them when it reads the file back. The HTML form is in
:mod:`dikte.drive.export_html`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import nbformat as _nbformat
from nbformat import NotebookNode

from dikte.drive import notebooks
from dikte.drive.export_html import to_html

Format = Literal["ipynb", "py", "html"]
# nbformat ships no type hints
_from_dict: Any = _nbformat.from_dict

@dataclass(frozen=True)
class Export:
    data: bytes
    media_type: str
    filename: str


def _stem(name: str) -> str:
    base = name.rsplit("/", 1)[-1]
    return base[: -len(".ipynb")] if base.endswith(".ipynb") else base


def _comment(text: str) -> list[str]:
    return [f"# {line}" if line.strip() else "#" for line in text.splitlines()]


def _code_lines(source: str) -> list[str]:
    """A code cell's lines, with those only IPython understands commented out. IPython's own
    transformer decides which they are (a continuation line that starts with ``%`` is Python)."""
    from IPython.core.inputtransformer2 import TransformerManager

    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):  # a cell magic: the whole cell is IPython
        return [f"# {line}" if line else "#" for line in lines]
    try:
        python = TransformerManager().transform_cell(source).splitlines()  # type: ignore[no-untyped-call]
    except Exception:  # IPython could not read it: leave the code as it is
        return lines
    if len(python) < len(lines):
        return lines
    return [_commented(line) if line != python[i] else line for i, line in enumerate(lines)]


def _commented(line: str) -> str:
    body = line.lstrip()
    return f"{line[: len(line) - len(body)]}# {body}"


def to_py(nb: NotebookNode) -> str:
    """The notebook as a percent-format Python script."""
    language = nb.get("metadata", {}).get("kernelspec", {}).get("language", "python")
    out = [
        "# ---",
        "# jupyter:",
        "#   kernelspec:",
        f"#     language: {language}",
        "#     name: python3",
        "# ---",
    ]
    for cell in nb.get("cells", []):
        out.append("")
        source = cell.get("source", "")
        if cell.get("cell_type") == "code":
            out.append("# %%")
            out.extend(_code_lines(source))
        elif cell.get("cell_type") == "markdown":
            out.append("# %% [markdown]")
            out.extend(_comment(source))
        else:
            out.append("# %% [raw]")
            out.extend(_comment(source))
    return "\n".join(out) + "\n"


def export(nb: NotebookNode, name: str, fmt: Format) -> Export:
    """``nb`` (the notebook at drive path ``name``) in format ``fmt``. ``nb`` may hold plain
    dicts (a live document's outputs are); it is read, never changed."""
    nb = _from_dict(nb)
    stem = _stem(name)
    if fmt == "ipynb":
        return Export(notebooks.dumps(nb), "application/x-ipynb+json", f"{stem}.ipynb")
    if fmt == "py":
        return Export(to_py(nb).encode(), "text/x-python; charset=utf-8", f"{stem}.py")
    return Export(to_html(nb, stem).encode(), "text/html; charset=utf-8", f"{stem}.html")
