"""A Debian package and a flat apt repository holding it, built in a test (``dpkg-deb``, part of
every Debian system), so that ``apt-get install`` in a runtime works offline."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path


def make_repo(directory: Path, name: str, script: str) -> Path:
    """A repository in ``directory`` with one package ``name`` installing ``/usr/bin/{name}``
    (a shell script holding ``script``); returns the repository folder. Use it with
    ``deb [trusted=yes] file:<folder> ./``."""
    root = directory / f"{name}-pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: 1.0\nArchitecture: all\n"
        "Maintainer: Dikte tests <tests@dikte.invalid>\nDescription: a test package\n")
    program = root / "usr" / "bin" / name
    program.write_text(f"#!/bin/sh\n{script}\n")
    program.chmod(0o755)
    repo = directory / "repo"
    repo.mkdir()
    deb = repo / f"{name}_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(root), str(deb)], check=True,
                   capture_output=True)
    control = subprocess.run(["dpkg-deb", "-f", str(deb)], check=True, capture_output=True,
                             text=True).stdout
    data = deb.read_bytes()
    (repo / "Packages").write_text(
        f"{control.rstrip()}\nFilename: ./{deb.name}\nSize: {len(data)}\n"
        f"SHA256: {hashlib.sha256(data).hexdigest()}\n\n")
    return repo
