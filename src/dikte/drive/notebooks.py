"""Notebook documents: parse and validate ``.ipynb`` bytes, serialise them the way Jupyter does.

Parsing never writes anything. Older nbformat 4 minors are upgraded in memory to 4.5 so that every
cell has an ``id``; a malformed document raises :class:`InvalidNotebook` whose sentence names the
file and the first problem, e.g. ``cells[2]: 'cell_type' is a required property``.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import nbformat as _nbformat
from nbformat import NotebookNode

from dikte.drive.paths import is_text
from dikte.errors import InvalidNotebook

# nbformat ships no type hints; reach it through Any-typed names.
nbformat: Any = _nbformat
v4: Any = _nbformat.v4
validator: Any = _nbformat.validator
rejoin_lines: Any = _nbformat.v4.rwbase.rejoin_lines

_MINOR_WITH_IDS = 5


def _invalid(name: str, problem: str) -> InvalidNotebook:
    return InvalidNotebook(
        f"{name} is not a valid notebook: {problem}",
        log_message=f"invalid notebook {name!r}: {problem}",
    )


def _where(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _problem(error: Any) -> str:
    """One sentence for a jsonschema error, picking the telling branch of a ``oneOf``."""
    message = str(error.message)
    context: Sequence[Any] = error.context or []
    if error.validator == "oneOf" and context:
        about_type = [
            e
            for e in context
            if "'cell_type'" in str(e.message) or list(e.absolute_path)[-1:] == ["cell_type"]
        ]
        if about_type:
            message = str(about_type[0].message)
            if about_type[0].validator == "enum":
                message = f"{about_type[0].instance!r} is not a cell type (code, markdown or raw)"
        else:
            kinds = [e.validator_value for e in context if e.validator == "type"]
            if kinds and len(kinds) == len(context):
                wanted = " or ".join(repr(k) for k in kinds)
                message = f"{error.instance!r} is not of type {wanted}"
            else:
                message = str(context[0].message)
    where = _where(error.absolute_path)
    return f"{where}: {message}" if where else message


def _add_cell_ids(nb: NotebookNode) -> None:
    """Give every cell an id, and a new one to each cell whose id an earlier cell has (as
    nbformat's ``validate(repair_duplicate_cell_ids=True)`` does): a cell id names one cell."""
    if nb.get("nbformat_minor", 0) < _MINOR_WITH_IDS:
        nb["nbformat_minor"] = _MINOR_WITH_IDS
    cells = nb.get("cells")
    if not isinstance(cells, list):
        return
    used = {c.get("id") for c in cells if isinstance(c, dict)}
    seen: set[object] = set()
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        old = cell.get("id")
        if "id" in cell and (not isinstance(old, str) or old not in seen):
            seen.add(old if isinstance(old, str) else None)
            continue
        new = uuid.uuid4().hex[:8]
        while new in used:
            new = uuid.uuid4().hex[:8]
        used.add(new)
        seen.add(new)
        cell["id"] = new


def unpaired_surrogate(value: Any) -> str | None:
    """Where in ``value`` (JSON data) a string holds an unpaired surrogate such as ``"\\udc80"``,
    which JSON can escape but UTF-8 cannot store; None if nowhere. Walked without recursion."""
    todo: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while todo:
        item, where = todo.pop()
        if isinstance(item, str):
            if not is_text(item):
                return _where(where) or "the document"
        elif isinstance(item, dict):
            for key, sub in item.items():
                if isinstance(key, str) and not is_text(key):
                    return _where(where) or "the document"
                todo.append((sub, (*where, key)))
        elif isinstance(item, list):
            todo.extend((sub, (*where, i)) for i, sub in enumerate(item))
    return None


def check(nb: Any, name: str) -> NotebookNode:
    """Validate a notebook in memory; return a normalised copy (never the caller's object)."""
    if not isinstance(nb, dict):
        raise _invalid(name, "it is not a JSON object")
    try:
        return _check(nb, name)
    except RecursionError:
        raise _invalid(name, "it is nested too deeply") from None


def _check(nb: dict[str, Any], name: str) -> NotebookNode:
    bad_text = unpaired_surrogate(nb)
    if bad_text is not None:
        raise _invalid(name, f"{bad_text}: it holds an unpaired surrogate (such as \\udc80), "
                             "which is not text")
    node: NotebookNode = nbformat.from_dict(copy.deepcopy(dict(nb)))
    major = node.get("nbformat")
    if major == 3:
        try:
            node = nbformat.convert(node, 4)
        except Exception as exc:
            raise _invalid(name, f"it could not be upgraded from nbformat 3 ({exc})") from None
    elif major != 4:
        raise _invalid(name, f"nbformat {major!r} is not supported (expected 4)")
    if not isinstance(node.get("nbformat_minor"), int):
        raise _invalid(name, "nbformat_minor: it is missing or not a number")
    if not isinstance(node.get("cells"), list):
        raise _invalid(name, "cells: it is missing or not a list (a notebook holds a list of "
                             "cells, which may be empty)")
    for i, cell in enumerate(node["cells"]):
        if not isinstance(cell, dict):
            raise _invalid(name, f"cells[{i}]: {cell!r:.40} is not a cell (an object)")
    try:  # multi-line strings stored as lists of lines become one string
        node = rejoin_lines(node)
    except (TypeError, AttributeError, KeyError, ValueError) as exc:
        raise _invalid(name, f"it is not shaped like a notebook ({exc})") from None
    _add_cell_ids(node)
    for error in validator.iter_validate(node):
        raise _invalid(name, _problem(error))
    return node


def parse(data: bytes, name: str) -> NotebookNode:
    """Parse and validate ``.ipynb`` bytes."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid(name, "it is not UTF-8 text") from None
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise _invalid(name, f"it is not JSON ({exc})") from None
    except RecursionError:
        raise _invalid(name, "it is nested too deeply") from None
    return check(raw, name)


def dumps(nb: NotebookNode) -> bytes:
    """Serialise like Jupyter: nbformat JSON, one-space indent, sorted keys, trailing newline."""
    text: str = nbformat.writes(nb, version=4)
    return (text if text.endswith("\n") else text + "\n").encode("utf-8")


def empty() -> NotebookNode:
    """An nbformat 4.5 notebook with one empty code cell and the python3 kernelspec."""
    nb: NotebookNode = v4.new_notebook()
    nb.nbformat_minor = _MINOR_WITH_IDS
    nb.cells = [v4.new_code_cell()]
    nb.metadata = nbformat.from_dict(
        {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        }
    )
    return nb
