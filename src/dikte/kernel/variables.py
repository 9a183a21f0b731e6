"""The Variables panel's view of a kernel's namespace: names, types, shapes and short values.

The server asks with a silent request whose ``user_expressions`` call :func:`summary` (never
while a cell runs). Only the person's own names are listed: not modules, not IPython's (``In``,
``Out``, ``_3``...), not names starting with ``_``. Values are shown only for simple types, so
listing never runs a notebook's own ``__repr__`` (which could be slow); other objects show their
type and, where they have one, their shape or length. Standard library only.
"""

from __future__ import annotations

import sys
import types
from typing import Any

MAX_NAMES = 200
MAX_VALUE = 120
_HIDDEN = {"In", "Out", "exit", "quit", "get_ipython", "open"}
_SIMPLE = (bool, int, float, complex, str, bytes, type(None))


class Summary:
    """Shown as JSON (``application/json``) in the request's answer."""

    def __init__(self, rows: list[dict[str, str]], more: int) -> None:
        self.rows = rows
        self.more = more

    def _repr_json_(self) -> dict[str, Any]:
        return {"variables": self.rows, "more": self.more}

    def __repr__(self) -> str:
        return f"<{len(self.rows)} variables>"


def _shape(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and all(isinstance(n, int) for n in shape):
        return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"
    if isinstance(value, (list, tuple, dict, set, frozenset, str, bytes, range)):
        return str(len(value))
    return ""


def _value(value: Any) -> str:
    if isinstance(value, _SIMPLE):
        text = repr(value)
    elif isinstance(value, (list, tuple, set, frozenset)) and len(value) <= 20 \
            and all(isinstance(v, _SIMPLE) for v in value):
        text = repr(value)
    elif isinstance(value, dict) and len(value) <= 10 and all(
            isinstance(k, _SIMPLE) and isinstance(v, _SIMPLE) for k, v in value.items()):
        text = repr(value)
    else:
        dtype = getattr(value, "dtype", None)
        text = f"dtype {dtype}" if dtype is not None and _shape(value) else ""
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def summary(namespace: dict[str, Any] | None = None) -> Summary:
    """The rows of the Variables panel, sorted by name (at most :data:`MAX_NAMES`)."""
    if namespace is None:
        namespace = sys.modules["__main__"].__dict__
    rows: list[dict[str, str]] = []
    names = sorted(n for n in list(namespace) if not n.startswith("_") and n not in _HIDDEN)
    shown = 0
    for name in names:
        value = namespace[name]
        if isinstance(value, types.ModuleType):
            continue
        if shown >= MAX_NAMES:
            shown += 1
            continue
        kind = type(value)
        module = kind.__module__
        rows.append({"name": name,
                     "type": kind.__qualname__ if module in ("builtins", "__main__")
                     else f"{module.split('.')[0]}.{kind.__qualname__}",
                     "shape": _shape(value), "value": _value(value)})
        shown += 1
    return Summary(rows, max(0, shown - MAX_NAMES))
