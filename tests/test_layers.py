"""The import direction of ARCHITECTURE.md's package table, enforced."""

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
    "runtimes": {"accelerators", "errors", "config"},
    "images": {"config", "errors"},
    "sessions": {"drive", "execution", "runtimes", "db", "policy", "schemas", "errors",
                 "config", "accelerators", "images"},
    "api": {"schemas", "sessions", "errors", "config", "db", "drive", "runtimes", "app",
            "images", "__init__"},
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


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_follow_the_architecture(package: str) -> None:
    target = SRC / package
    files = list(target.rglob("*.py")) if target.is_dir() else [SRC / f"{package}.py"]
    for f in files:
        bad = _imports(f) - ALLOWED[package] - {package}
        assert not bad, f"{f.relative_to(SRC)} imports {sorted(bad)}"
