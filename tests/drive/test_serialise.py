"""The server's notebooks are written byte for byte as nbformat writes them, valid, without
nbformat's copies (dikte.drive.serialise; issue 11, item 12)."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import nbformat
import pytest

from dikte.drive import Drive, serialise
from dikte.errors import InvalidNotebook

nbf: Any = nbformat


def _tricky() -> Any:
    nb = nbf.v4.new_notebook()
    nb.nbformat_minor = 5
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                  "language": "python"},
                   "orig_nbformat": 3, "signature": "sha256:x", "empty": {}, "list": [],
                   "nested": {"b": [1, 2.5, None, True, False, {"z": 1, "a": "é\u2028"}]}}
    code = nbf.v4.new_code_cell("import x\nprint('a\\tb')\n\n", execution_count=3)
    code.metadata = {"trusted": True, "tags": ["t"], "execution": {"started": "s"}}
    code.outputs = [
        nbf.v4.new_output("stream", name="stdout", text="one\ntwo\r\nthree\rfour\n\n"),
        nbf.v4.new_output("stream", name="stderr", text=""),
        nbf.v4.new_output("display_data", data={
            "text/plain": "x\ny", "text/html": "<b>\n</b>", "image/png": "iVBOR\nw0K",
            "image/svg+xml": "<svg>\n</svg>", "application/javascript": "a;\nb;",
            "application/json": {"k": [1, "a\nb"]}, "application/vnd.custom": "p\nq"},
            metadata={"image/png": {"width": 10}}),
        nbf.v4.new_output("execute_result", data={"text/plain": "42"}, execution_count=3),
        nbf.v4.new_output("error", ename="E", evalue="bad \x1b[31mred\x1b[0m",
                          traceback=["line 1", "\u00e9\u4e2d\U0001f600"]),
    ]
    empty = nbf.v4.new_code_cell("")
    md = nbf.v4.new_markdown_cell("# title\n![a](attachment:a.png)")
    md.attachments = {"a.png": {"image/png": "iVBOR\nw0K", "text/plain": "a\nb"}}
    raw = nbf.v4.new_raw_cell("raw\n")
    raw.metadata = {"format": "text/x-rst", "num": math.inf}
    nb.cells = [code, empty, md, raw]
    return nb


def test_bytes_equal_what_nbformat_writes_and_validate() -> None:
    nb = _tricky()
    before = copy.deepcopy(nb)
    data = serialise.dumps(nb)
    assert data == (nbf.writes(nb, version=4) + "\n").encode("utf-8")
    assert nb == before  # the caller's document is not touched
    nbf.validate(nbf.reads(data.decode("utf-8"), as_version=4))


def test_an_empty_notebook_too() -> None:
    nb = nbf.v4.new_notebook()
    nb.nbformat_minor = 5
    assert serialise.dumps(nb) == (nbf.writes(nb, version=4) + "\n").encode("utf-8")


def test_write_notebook_saves_a_valid_file_that_reads_back(tmp_path: Path) -> None:
    drive = Drive(tmp_path / "d")
    drive.write_notebook("a.ipynb", _tricky())
    back = drive.read_notebook("a.ipynb")  # parse: the full schema
    assert back.cells[0].outputs[0]["text"] == "one\ntwo\r\nthree\rfour\n\n"
    assert "orig_nbformat" not in back.metadata and "trusted" not in back.cells[0].metadata


@pytest.mark.parametrize(("change", "problem"), [
    (lambda nb: nb.pop("cells"), "cells"),
    (lambda nb: nb.cells.append("x"), "cells[4]"),
    (lambda nb: nb.cells[0].update(cell_type="text"), "cells[0]"),
    (lambda nb: nb.cells[2].update(outputs=[]), "cells[2]"),
    (lambda nb: nb.cells[0].outputs.append({"output_type": "nope"}), "cells[0].outputs[5]"),
    (lambda nb: nb.cells[1].update(source="\udc80"), "unpaired surrogate"),
    (lambda nb: nb.metadata.update(x=object()), "not JSON"),
])
def test_a_broken_document_is_refused_and_nothing_is_written(
        tmp_path: Path, change: Any, problem: str) -> None:
    drive = Drive(tmp_path / "d")
    nb = _tricky()
    change(nb)
    with pytest.raises(InvalidNotebook, match=problem.replace("[", r"\[").replace("]", r"\]")):
        drive.write_notebook("a.ipynb", nb)
    assert not (tmp_path / "d" / "a.ipynb").exists()
    assert not [p for p in (tmp_path / "d").rglob("*") if p.is_file()]  # no temp file either
