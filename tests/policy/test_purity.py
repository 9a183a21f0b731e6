"""policy/ is pure: it imports only dikte.schemas and dikte.errors of Dikte, nothing that does I/O
or reads a clock, and never calls one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

POLICY = Path(__file__).resolve().parents[2] / "src" / "dikte" / "policy"
FILES = sorted(POLICY.glob("*.py"))

ALLOWED_DIKTE = {"dikte.schemas", "dikte.errors", "dikte.policy"}
# standard-library and third-party modules a pure function may use
ALLOWED_OTHER = {"__future__", "collections", "dataclasses", "datetime", "math", "re", "typing",
                 "zoneinfo", "pydantic"}
CLOCK_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter", "open", "sleep"}


def _modules(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_policy_imports_nothing_else(path: Path) -> None:
    for module in _modules(ast.parse(path.read_text())):
        if module.startswith("dikte"):
            assert any(module == a or module.startswith(a + ".") for a in ALLOWED_DIKTE), module
        else:
            assert module.split(".")[0] in ALLOWED_OTHER, module


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_policy_reads_no_clock(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            assert name not in CLOCK_CALLS, f"{path.name}:{node.lineno} calls {name}()"
