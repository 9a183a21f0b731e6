"""The import direction of docs/architecture.md's package table, enforced: every package of
src/dikte is listed (a new one fails until it is), each imports only what its row allows, and
no dikte module imports another that imports it back, directly or around a loop.

A cycle counts every import at a module's top level, those under ``if TYPE_CHECKING:``
included: a type-only import of a module that imports you back is still two modules that know
each other (one owns a thing and is called back by it); pass a small Protocol down instead.
Imports inside functions are not counted."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "dikte"

# package -> dikte modules it may import (besides itself)
ALLOWED = {
    "kernel": set(),
    "errors": set(),
    "config": {"policy"},  # tiers are policy data that the config file carries
    "schemas": set(),
    "policy": {"schemas", "errors"},
    "accelerators": {"errors"},
    "execution": {"errors"},
    "drive": {"errors", "config"},
    "db": {"errors"},
    "runtimes": {"accelerators", "errors", "config", "drive"},
    "images": {"config", "errors"},
    "notebooks": {"drive", "execution", "schemas", "errors", "config"},
    "control": {"notebooks", "drive", "execution", "runtimes", "db", "policy", "errors",
                "config", "accelerators", "images"},
    "bridge": {"notebooks", "control", "drive", "execution", "runtimes", "errors"},
    "transfers": {"bridge", "control", "drive", "config", "errors"},
    "cli": {"app", "schemas", "config", "db", "drive", "errors", "execution", "images",
            "accelerators", "runtimes", "notebooks", "control", "__init__"},
    "api": {"schemas", "notebooks", "control", "bridge", "transfers", "errors", "config", "db",
            "drive", "runtimes", "app", "images", "__init__"},
}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dikte"):
            parts = node.module.split(".")
            found.add(parts[1] if len(parts) > 1 else "__init__")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("dikte."):
                    found.add(alias.name.split(".")[1])
    return found


def test_every_package_is_listed() -> None:
    packages = {p.name for p in SRC.iterdir()
                if p.is_dir() and (p / "__init__.py").exists()}
    unlisted = packages - set(ALLOWED)
    assert not unlisted, (f"add {sorted(unlisted)} to ALLOWED (and to the package table in "
                          "docs/architecture.md) with what each may import")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(path: Path, modules: set[str]) -> set[str]:
    """The dikte modules ``path`` imports at its top level (under ``if``/``try`` too)."""
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("dikte."))
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level \
                    and node.module.startswith("dikte"):
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    found.add(sub if sub in modules else node.module)

    visit(ast.parse(path.read_text()).body)
    resolved = set()
    for name in found:
        while name not in modules and "." in name:
            name = name.rsplit(".", 1)[0]
        resolved.add(name)
    return resolved


def test_no_import_cycles() -> None:
    paths = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph = {m: _top_level_imports(p, set(paths)) - {m} for m, p in paths.items()}
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def walk(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for dep in sorted(graph.get(module, ())):
            if state.get(dep) == 1:
                cycles.append(" -> ".join([*stack[stack.index(dep):], dep]))
            elif dep not in state:
                walk(dep)
        stack.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            walk(module)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_follow_the_architecture(package: str) -> None:
    target = SRC / package
    files = list(target.rglob("*.py")) if target.is_dir() else [SRC / f"{package}.py"]
    for f in files:
        bad = _imports(f) - ALLOWED[package] - {package}
        assert not bad, f"{f.relative_to(SRC)} imports {sorted(bad)}"
