"""Edits to an nbformat document, as pure functions on the in-memory notebook."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import nbformat
from nbformat import NotebookNode

from dikte.errors import BadRequest, NotFound
from dikte.schemas.rest import EditOp


def source_hash(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


def cell_index(nb: NotebookNode, cell_id: str) -> int:
    for i, cell in enumerate(nb.cells):
        if cell.get("id") == cell_id:
            return i
    raise NotFound(f"This notebook has no cell {cell_id!r}; reload it to see its current cells.",
                   code="no_such_cell")


def new_cell(cell_type: str, source: str) -> NotebookNode:
    makers = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell,
              "raw": nbformat.v4.new_raw_cell}
    cell: NotebookNode = makers[cell_type](source)  # type: ignore[no-untyped-call]
    return cell


def _convert(cell: NotebookNode, cell_type: str) -> NotebookNode:
    fresh = new_cell(cell_type, cell.source)
    fresh["id"] = cell["id"]
    fresh["metadata"] = cell.get("metadata", {})
    return fresh


def apply_op(nb: NotebookNode, op: EditOp) -> dict[str, Any]:
    """Apply one edit; return the op as broadcast to viewers (with ids and new cells filled in)."""
    if op.op == "insert":
        index = len(nb.cells) if op.index is None else op.index
        if not 0 <= index <= len(nb.cells):
            raise BadRequest(f"Insert position {index} is outside 0..{len(nb.cells)}.",
                             code="bad_index")
        cell = new_cell(op.cell_type or "code", op.source or "")
        nb.cells.insert(index, cell)
        return {"op": "insert", "index": index, "cell": dict(cell), "cell_id": cell["id"]}
    if op.cell_id is None:
        raise BadRequest(f"The {op.op} edit needs a cell_id.", code="missing_cell_id")
    i = cell_index(nb, op.cell_id)
    if op.op == "delete":
        del nb.cells[i]
        return {"op": "delete", "cell_id": op.cell_id}
    if op.op == "move":
        if op.index is None or not 0 <= op.index < len(nb.cells):
            raise BadRequest(f"Move target {op.index} is outside 0..{len(nb.cells) - 1}.",
                             code="bad_index")
        nb.cells.insert(op.index, nb.cells.pop(i))
        return {"op": "move", "cell_id": op.cell_id, "index": op.index}
    if op.op == "set_source":
        if op.source is None:
            raise BadRequest("The set_source edit needs a source.", code="missing_source")
        nb.cells[i]["source"] = op.source
        return {"op": "set_source", "cell_id": op.cell_id, "source": op.source}
    if op.op == "set_type":
        if op.cell_type is None:
            raise BadRequest("The set_type edit needs a cell_type.", code="missing_cell_type")
        if nb.cells[i].cell_type != op.cell_type:
            nb.cells[i] = _convert(nb.cells[i], op.cell_type)
        return {"op": "set_type", "cell_id": op.cell_id, "cell": dict(nb.cells[i])}
    if op.op == "set_metadata":
        return _set_metadata(nb, i, op)
    # clear_outputs
    cell = nb.cells[i]
    if cell.cell_type == "code":
        cell["outputs"].clear()  # in place: a running cell's recorder holds this list
        cell["execution_count"] = None
    return {"op": "clear_outputs", "cell_id": op.cell_id}


def _set_metadata(nb: NotebookNode, i: int, op: EditOp) -> dict[str, Any]:
    """Merge keys into a cell's metadata (None removes one); refused if the cell would not be
    valid nbformat (e.g. ``collapsed`` that is not a boolean), leaving the cell as it was."""
    if not op.metadata:
        raise BadRequest("The set_metadata edit needs metadata.", code="missing_metadata")
    cell = nb.cells[i]
    meta = copy.deepcopy(dict(cell.get("metadata", {})))
    for key, value in op.metadata.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    try:
        nbformat.validator.validate({**cell, "metadata": meta}, ref=f"{cell.cell_type}_cell",
                                    version=4, version_minor=5)
    except nbformat.ValidationError as exc:
        raise BadRequest(f"That cell metadata is not valid: {exc.message}.",
                         code="bad_metadata") from None
    # in place: a running cell's recorder holds this cell's outputs
    cell["metadata"] = nbformat.from_dict(meta)  # type: ignore[no-untyped-call]
    return {"op": "set_metadata", "cell_id": op.cell_id, "metadata": op.metadata}


def code_cells(nb: NotebookNode, mode: str, anchor: str | None) -> list[str]:
    """Cell ids to run for run all / run before / run after (code cells only)."""
    ids = [c["id"] for c in nb.cells if c.cell_type == "code"]
    if mode == "all":
        return ids
    if anchor is None:
        raise BadRequest(f"Run {mode} needs an anchor cell.", code="missing_anchor")
    pos = cell_index(nb, anchor)
    order = [c["id"] for c in nb.cells]
    if mode == "before":
        keep = set(order[:pos])
    else:
        keep = set(order[pos:])
    return [i for i in ids if i in keep]
