"""Writing the server's own notebook to ``.ipynb`` bytes quickly, without stalling other threads.

``nbformat.writes`` validates the whole document against the JSON schema, deep-copies it and
splits its text into lines in the copy: for a notebook with 200,000 outputs that is a million
objects alive at once, and the garbage collector's full passes over them hold the interpreter
(and so the event loop every person shares) for up to a second. The server built its document
from validated pieces, so here the shape is checked cheaply (:func:`check_shape`: the top level and
each cell, not every output against the schema) and the JSON is written by a walk that makes
the same bytes as nbformat (``indent=1``, sorted keys, text split into lines, transient metadata
left out, a trailing newline) while keeping at most one output's worth of new objects alive.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from dikte.errors import InvalidNotebook

_string: Any = json.encoder.encode_basestring  # what json.dumps uses with ensure_ascii=False
_SPLIT_MIMES = frozenset({"application/javascript", "image/svg+xml"})  # as nbformat's rwbase
_CELL_TYPES = frozenset({"code", "markdown", "raw"})
_OUTPUT_TYPES = frozenset({"stream", "display_data", "execute_result", "error"})
_TRANSIENT = frozenset({"orig_nbformat", "orig_nbformat_minor", "signature"})


def _invalid(name: str, problem: str) -> InvalidNotebook:
    return InvalidNotebook(f"{name} is not a valid notebook: {problem}",
                           log_message=f"refusing to write {name!r}: {problem}")


def check_shape(nb: Any, name: str) -> None:
    """The notebook's top level and each cell's (and output's) shape; O(cells + outputs), no
    copies. What the server writes it built itself from validated pieces."""
    if not isinstance(nb, dict) or nb.get("nbformat") != 4:
        raise _invalid(name, "it is not an nbformat 4 notebook")
    if not isinstance(nb.get("nbformat_minor"), int) or not isinstance(nb.get("metadata"), dict):
        raise _invalid(name, "nbformat_minor or metadata is missing")
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise _invalid(name, "cells: it is not a list")
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") not in _CELL_TYPES:
            raise _invalid(name, f"cells[{i}]: it is not a cell")
        if not isinstance(cell.get("id"), str) or not isinstance(cell.get("metadata"), dict) \
                or not isinstance(cell.get("source"), str | list):
            raise _invalid(name, f"cells[{i}]: id, metadata or source is missing")
        if cell["cell_type"] == "code":
            outputs = cell.get("outputs")
            count = cell.get("execution_count", 0)
            if not isinstance(outputs, list) or not (count is None or isinstance(count, int)):
                raise _invalid(name, f"cells[{i}]: outputs or execution_count is missing")
            for j, out in enumerate(outputs):
                if not isinstance(out, dict) or out.get("output_type") not in _OUTPUT_TYPES:
                    raise _invalid(name, f"cells[{i}].outputs[{j}]: it is not an output")
        elif "outputs" in cell or "execution_count" in cell:
            raise _invalid(name, f"cells[{i}]: a {cell['cell_type']} cell has no outputs")


def dumps(nb: dict[str, Any]) -> bytes:
    """The bytes ``nbformat.writes`` makes of ``nb`` (plus its trailing newline)."""
    text = "".join(_notebook(nb)) + "\n"
    return text.encode("utf-8")  # UnicodeEncodeError: an unpaired surrogate (the caller says)


def _lines(value: Any) -> Any:
    return value.splitlines(True) if isinstance(value, str) else value


def _bundle(data: Any) -> Any:
    if not isinstance(data, dict):
        return data
    return {k: _lines(v) if k.startswith("text/") or k in _SPLIT_MIMES else v
            for k, v in data.items()}


def _output(out: dict[str, Any]) -> dict[str, Any]:
    kind = out.get("output_type")
    if kind == "stream" and isinstance(out.get("text"), str):
        return {**out, "text": out["text"].splitlines(True)}
    if kind in ("execute_result", "display_data") and "data" in out:
        return {**out, "data": _bundle(out["data"])}
    return out


def _notebook(nb: dict[str, Any]) -> Iterator[str]:
    """nbformat's ``split_lines`` and ``strip_transient``, applied one cell and one output at a
    time as the walk reaches them, so the new objects die young."""
    meta = nb.get("metadata")
    if isinstance(meta, dict) and not _TRANSIENT.isdisjoint(meta):
        meta = {k: v for k, v in meta.items() if k not in _TRANSIENT}
    top = {**nb, "metadata": meta}
    yield "{"
    first = True
    for key in sorted(top):
        yield ("\n " if first else ",\n ") + _string(key) + ": "
        first = False
        if key == "cells" and isinstance(top[key], list) and top[key]:
            yield "["
            for i, cell in enumerate(top[key]):
                yield ("\n  " if i == 0 else ",\n  ")
                yield from _cell(cell)
            yield "\n ]"
        else:
            yield from _value(top[key], 1)
    yield "\n}" if not first else "}"


def _cell(cell: dict[str, Any]) -> Iterator[str]:
    shown = dict(cell)
    shown["source"] = _lines(cell.get("source"))
    meta = cell.get("metadata")
    if isinstance(meta, dict) and "trusted" in meta:
        shown["metadata"] = {k: v for k, v in meta.items() if k != "trusted"}
    if isinstance(cell.get("attachments"), dict):
        shown["attachments"] = {k: _bundle(v) for k, v in cell["attachments"].items()}
    outputs = cell.get("outputs") if cell.get("cell_type") == "code" else None
    yield "{"
    for i, key in enumerate(sorted(shown)):
        yield ("\n   " if i == 0 else ",\n   ") + _string(key) + ": "
        if key == "outputs" and isinstance(outputs, list) and outputs:
            yield "["
            for j, out in enumerate(outputs):
                yield "\n    " if j == 0 else ",\n    "
                yield from _value(_output(out) if isinstance(out, dict) else out, 4)
            yield "\n   ]"
        else:
            yield from _value(shown[key], 3)
    yield "\n  }" if shown else "}"


def _value(value: Any, level: int) -> Iterator[str]:
    """``json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False)`` at ``level``."""
    if isinstance(value, str):
        yield _string(value)
    elif value is None:
        yield "null"
    elif value is True:
        yield "true"
    elif value is False:
        yield "false"
    elif isinstance(value, int):
        yield int.__repr__(value)
    elif isinstance(value, float):
        yield json.dumps(value)
    elif isinstance(value, dict):
        if not value:
            yield "{}"
            return
        inner = "\n" + " " * (level + 1)
        yield "{"
        for i, key in enumerate(sorted(value)):
            yield ("" if i == 0 else ",") + inner + _string(str(key)) + ": "
            yield from _value(value[key], level + 1)
        yield "\n" + " " * level + "}"
    elif isinstance(value, list | tuple):
        if not value:
            yield "[]"
            return
        inner = "\n" + " " * (level + 1)
        yield "["
        for i, item in enumerate(value):
            yield ("" if i == 0 else ",") + inner
            yield from _value(item, level + 1)
        yield "\n" + " " * level + "]"
    elif isinstance(value, bytes):  # nbformat's BytesEncoder: base64 payloads
        yield _string(value.decode("ascii"))
    else:
        raise TypeError(f"{type(value).__name__} is not JSON data")
