"""docs/colab-compatibility.md against the code: every ``google.colab`` call its summary table
names exists, and it is a stand-in that raises ``NotOffered`` exactly when the table says "not
offered". The README's claims about widgets hold too (the pieces it names are there)."""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "colab-compatibility.md"
COLAB_PATH = ROOT / "src" / "dikte" / "kernel" / "colab"
MODULES = ("ai", "auth", "autoviz", "data_table", "drive", "errors", "files", "output",
           "patches", "runtime", "sheets", "snippets", "syntax", "userdata", "widgets")


def _rows() -> Iterator[tuple[str, str, str]]:
    """(module, name, what the table says) for each ``module.name`` call in the summary."""
    text = DOC.read_text()
    table = text.split("## Summary", 1)[1].split("\n## ", 1)[0]
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`"):
            continue
        module = None
        for code in re.findall(r"`([^`]+)`", cells[0]):
            found = re.match(r"(?:(\w+)\.)?(\w+)", code)
            if not found:
                continue
            if found.group(1) in MODULES:
                module = found.group(1)
            if module is None or found.group(1) not in (None, module):
                continue
            if code.startswith(("%", "!", "#")) or found.group(2) == "*":
                continue
            yield module, found.group(2), cells[1]


ROWS = sorted(set(_rows()))


@pytest.fixture(scope="module")
def colab() -> Iterator[None]:
    before = set(sys.modules)
    sys.path.insert(0, str(COLAB_PATH))
    try:
        yield
    finally:
        sys.path.remove(str(COLAB_PATH))
        for name in set(sys.modules) - before:  # the runtime's google.colab is not ours
            if name == "google" or name.startswith("google."):
                del sys.modules[name]


def test_the_table_names_calls_of_every_kind() -> None:
    said = {status.split(" (")[0].split(";")[0] for _, _, status in ROWS}
    assert "not offered" in said and any(s.startswith("supported") for s in said)
    assert ("widgets", "TabBar", "supported, on ipywidgets (see [Widgets](#widgets))") in ROWS


@pytest.mark.parametrize(("module", "name", "status"), ROWS,
                         ids=[f"{m}.{n}" for m, n, _ in ROWS])
def test_each_call_in_the_table_is_as_the_table_says(colab: None, module: str, name: str,
                                                     status: str) -> None:
    mod = importlib.import_module(f"google.colab.{module}")
    assert hasattr(mod, name), f"google.colab.{module}.{name} is in the docs but not the code"
    thing = getattr(mod, name)
    stand_in = (thing.__doc__ or "").startswith("Not offered by Dikte")
    if status.startswith("not offered"):
        assert stand_in, f"the docs say {module}.{name} is not offered, but the code offers it"
    elif not status.startswith("see "):  # "see [files](#files)": the section says which
        assert not stand_in, f"the docs say {module}.{name} works, but the code refuses it"


def test_the_readme_claims_about_widgets_hold() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "Jupyter widgets work in the web app" in readme
    assert "not rendered" not in readme
    # the pieces that make that true: the server's relay and the frames' manager
    assert (ROOT / "src" / "dikte" / "notebooks" / "widgets.py").is_file()
    assert (ROOT / "frontend" / "src" / "widgets" / "frame.ts").is_file()
    doc = DOC.read_text()
    assert "does not render Jupyter widgets" not in doc
