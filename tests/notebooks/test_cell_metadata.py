"""The set_metadata edit: keys set and removed in place, and metadata that would make the
notebook invalid refused with the cell unchanged."""

from __future__ import annotations

import pytest

from dikte.drive import notebooks
from dikte.errors import BadRequest
from dikte.notebooks.document import apply_op
from dikte.schemas.rest import EditOp


def test_set_and_remove_keys_in_place() -> None:
    nb = notebooks.empty()
    cell = nb.cells[0]
    cell["id"] = "c1"
    outputs = cell["outputs"]
    applied = apply_op(nb, EditOp(op="set_metadata", cell_id="c1",
                                  metadata={"cellView": "form", "tags": ["setup"]}))
    assert applied == {"op": "set_metadata", "cell_id": "c1",
                       "metadata": {"cellView": "form", "tags": ["setup"]}}
    assert nb.cells[0] is cell and cell["outputs"] is outputs  # a running cell keeps its outputs
    assert cell.metadata == {"cellView": "form", "tags": ["setup"]}
    apply_op(nb, EditOp(op="set_metadata", cell_id="c1", metadata={"cellView": None}))
    assert cell.metadata == {"tags": ["setup"]}
    notebooks.check(nb, "x.ipynb")


@pytest.mark.parametrize(("metadata", "code"), [
    ({"collapsed": "yes"}, "bad_metadata"),
    ({"tags": "one"}, "bad_metadata"),
    ({}, "missing_metadata"),
])
def test_invalid_metadata_is_refused(metadata: dict[str, object], code: str) -> None:
    nb = notebooks.empty()
    nb.cells[0]["id"] = "c1"
    with pytest.raises(BadRequest) as info:
        apply_op(nb, EditOp(op="set_metadata", cell_id="c1", metadata=metadata))
    assert info.value.code == code
    assert nb.cells[0].metadata == {}
