"""Copies of an open notebook for a new viewer and for the drive, made without stalling the loop.

The event loop serves every person; a 100,000-output notebook deep-copied on it froze everyone
for seconds. :func:`freeze` copies only the structure that changes in place (the notebook, each
cell, its metadata and its list of outputs), which costs per cell, not per output, because an
output is never changed in place once it is in a cell's list: new text or display data replaces
the output dict (see :mod:`dikte.execution.outputs`). The frozen copy can then be serialised in a
thread (:func:`encode`) while the loop goes on changing the live document.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from nbformat import NotebookNode

LARGE = frozenset({"snapshot"})
"""Message types that may be megabytes long: encoded in a thread."""

_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(", ", ": "))


def _copy(value: Any) -> Any:
    """A deep copy of plain JSON data (metadata: small, and changed in place)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def freeze(doc: dict[str, Any]) -> NotebookNode:
    """A copy of the notebook that later changes to ``doc`` do not reach (its cells are plain
    dicts)."""
    out = NotebookNode(doc)  # type: ignore[no-untyped-call]
    out["metadata"] = _copy(doc.get("metadata", {}))
    cells = []
    for cell in doc.get("cells", []):
        frozen = dict(cell)
        frozen["metadata"] = _copy(cell.get("metadata", {}))
        if "outputs" in cell:
            frozen["outputs"] = list(cell["outputs"])
        if "attachments" in cell:
            frozen["attachments"] = _copy(cell["attachments"])
        cells.append(frozen)
    out["cells"] = cells
    return out


def _encode_yielding(message: dict[str, Any]) -> str:
    # iterencode without _one_shot walks containers in Python, so this thread lets go of the
    # interpreter every few milliseconds; json.dumps would hold it for the whole message
    return "".join(_ENCODER.iterencode(message))


async def encode(message: dict[str, Any], *, large: bool = False) -> str:
    """The JSON text of one message for the wire; a large one is encoded in a thread."""
    if large or message.get("type") in LARGE:
        return await asyncio.to_thread(_encode_yielding, message)
    return json.dumps(message)
