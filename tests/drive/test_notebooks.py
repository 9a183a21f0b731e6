"""Notebooks: validation with a useful sentence, upgrade to cell ids, Jupyter's file format."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable

import nbformat
import pytest

from dikte.drive import Drive
from dikte.errors import Conflict, InvalidNotebook

Chunks = Callable[..., AsyncIterator[bytes]]

OLD_MINOR = {
    "nbformat": 4,
    "nbformat_minor": 2,
    "metadata": {},
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# hi\n", "there"]},
        {"cell_type": "code", "metadata": {}, "source": "1", "outputs": [],
         "execution_count": None},
    ],
}


def cells_with(bad: dict[str, object]) -> bytes:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("a"), nbformat.v4.new_code_cell("b")]
    raw = json.loads(nbformat.writes(nb))
    raw["cells"].append(bad)
    return json.dumps(raw).encode()


@pytest.mark.parametrize(("data", "problem"), [
    (b"{not json", "it is not JSON"),
    (b"\xff\xfe", "it is not UTF-8 text"),
    (b"[1, 2]", "it is not a JSON object"),
    (b'{"nbformat": 5, "nbformat_minor": 0}', "nbformat 5 is not supported"),
    (cells_with({"id": "x1", "source": "", "metadata": {}}),
     "cells[2]: 'cell_type' is a required property"),
    (cells_with({"id": "x1", "cell_type": "code", "source": "", "metadata": {}}),
     "cells[2]: 'outputs' is a required property"),
    (cells_with({"id": "x1", "cell_type": "weird", "source": "", "metadata": {}}),
     "cells[2]: 'weird' is not a cell type"),
    (cells_with({"id": "x1", "cell_type": "markdown", "source": 5, "metadata": {}}),
     "cells[2].source: 5 is not of type 'string' or 'array'"),
])
def test_malformed_notebook_message_names_problem(
    drive: Drive, data: bytes, problem: str
) -> None:
    with pytest.raises(InvalidNotebook) as info:
        drive.validate_notebook_bytes(data, "Notebooks/x.ipynb")
    assert info.value.message.startswith(f"Notebooks/x.ipynb is not a valid notebook: {problem}")
    with pytest.raises(InvalidNotebook):
        drive.write_bytes("Notebooks/x.ipynb", data)
    assert os.listdir(drive.root / "Notebooks") == []


def test_new_notebook_is_empty_4_5_with_kernelspec(drive: Drive) -> None:
    entry = drive.new_notebook("Notebooks/Untitled.ipynb")
    assert entry.kind == "notebook"
    nb = drive.read_notebook("Notebooks/Untitled.ipynb")
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5)
    assert [(c.cell_type, c.source) for c in nb.cells] == [("code", "")]
    assert nb.cells[0].id
    assert nb.metadata.kernelspec.name == "python3"
    with pytest.raises(Conflict):
        drive.new_notebook("Notebooks/Untitled.ipynb")


def test_round_trip_writes_jupyter_format(drive: Drive) -> None:
    drive.new_notebook("Notebooks/a.ipynb")
    nb = drive.read_notebook("Notebooks/a.ipynb")
    nb.cells[0].source = "print(1)\nprint(2)"
    nb.cells.append(nbformat.v4.new_markdown_cell("# Title"))
    drive.write_notebook("Notebooks/a.ipynb", nb)
    text = (drive.root / "Notebooks/a.ipynb").read_text()
    assert text == nbformat.writes(nb) + "\n"
    assert text.startswith('{\n "cells": [\n  {')
    again = drive.read_notebook("Notebooks/a.ipynb")
    assert again == nb


def test_read_upgrades_old_minor_without_touching_file(drive: Drive) -> None:
    data = json.dumps(OLD_MINOR).encode()
    (drive.root / "Notebooks" / "old.ipynb").write_bytes(data)
    nb = drive.read_notebook("Notebooks/old.ipynb")
    assert nb.nbformat_minor == 5
    ids = [c.id for c in nb.cells]
    assert all(ids) and len(set(ids)) == 2
    assert nb.cells[0].source == "# hi\nthere"
    assert (drive.root / "Notebooks" / "old.ipynb").read_bytes() == data


def test_read_malformed_file_raises_and_leaves_it(drive: Drive) -> None:
    (drive.root / "Notebooks" / "bad.ipynb").write_bytes(b'{"cells": []}')
    with pytest.raises(InvalidNotebook, match=r"Notebooks/bad\.ipynb is not a valid notebook"):
        drive.read_notebook("Notebooks/bad.ipynb")
    assert (drive.root / "Notebooks" / "bad.ipynb").read_bytes() == b'{"cells": []}'


def test_write_invalid_notebook_writes_nothing(drive: Drive) -> None:
    drive.new_notebook("Notebooks/a.ipynb")
    before = (drive.root / "Notebooks/a.ipynb").read_bytes()
    nb = drive.read_notebook("Notebooks/a.ipynb")
    del nb.cells[0]["outputs"]
    with pytest.raises(InvalidNotebook, match=r"cells\[0\]: outputs or execution_count is missing"):
        drive.write_notebook("Notebooks/a.ipynb", nb)
    assert (drive.root / "Notebooks/a.ipynb").read_bytes() == before
    assert "outputs" not in nb.cells[0]  # the caller's object is not changed


async def test_malformed_notebook_upload_keeps_old_file(drive: Drive, chunks: Chunks) -> None:
    drive.new_notebook("Notebooks/a.ipynb")
    before = (drive.root / "Notebooks/a.ipynb").read_bytes()
    with pytest.raises(InvalidNotebook):
        await drive.write_stream("Notebooks/a.ipynb", chunks(b'{"cells": ', b"[]}"), max_bytes=100)
    assert (drive.root / "Notebooks/a.ipynb").read_bytes() == before
    assert os.listdir(drive.root / "Notebooks") == ["a.ipynb"]


async def test_valid_notebook_upload_is_stored_as_sent(drive: Drive, chunks: Chunks) -> None:
    data = json.dumps(OLD_MINOR).encode()
    await drive.write_stream("Notebooks/up.ipynb", chunks(data[:10], data[10:]), max_bytes=10**6)
    assert (drive.root / "Notebooks/up.ipynb").read_bytes() == data
