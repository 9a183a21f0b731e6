"""What runtime images there are, which are built, and which one a runtime may use.

An image Dikte builds lives in ``<images_dir>/<name>/``: a virtual environment whose
``manifest.json`` (written last, inside the build's temporary folder, before that folder is
renamed into place) says what it is. A folder without one is not an image. An image an admin
brings (``python = "/path/bin/python"``) is ready when that python exists.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dikte.config import SHIPPED_IMAGES, Settings
from dikte.errors import BadRequest

MANIFEST = "manifest.json"
# which image most people want first, and the small one to try before it
PREFERRED = ("colab", "minimal")


@dataclass(frozen=True)
class Manifest:
    """What ``dikte image build`` wrote about a built image."""

    name: str
    version: str
    """Short hash of the requirements text and the Python version: changes when either does."""
    python_version: str
    packages: dict[str, str]
    built_at: str
    """ISO 8601, UTC."""
    size_bytes: int
    requirements: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "python_version": self.python_version,
                "packages": self.packages, "built_at": self.built_at,
                "size_bytes": self.size_bytes, "requirements": self.requirements}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        return cls(name=str(data["name"]), version=str(data["version"]),
                   python_version=str(data["python_version"]),
                   packages={str(k): str(v) for k, v in dict(data["packages"]).items()},
                   built_at=str(data["built_at"]), size_bytes=int(data["size_bytes"]),
                   requirements=str(data.get("requirements", "")))


_read: dict[Path, tuple[tuple[int, int, int], Manifest]] = {}


def read_manifest(folder: Path) -> Manifest | None:
    """The manifest of the image in ``folder``; None when there is none (not built) or it
    cannot be read. Every connect asks, so a manifest is parsed once per version of its file
    (a build puts a new file in its place)."""
    path = folder / MANIFEST
    try:
        st = path.stat()
        version = (st.st_ino, st.st_mtime_ns, st.st_size)
        known = _read.get(path)
        if known is not None and known[0] == version:
            return known[1]
        manifest = Manifest.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    _read[path] = (version, manifest)
    return manifest


@dataclass(frozen=True)
class ImageState:
    name: str
    description: str
    built_by_dikte: bool
    ready: bool
    """Built (an image Dikte builds) or its python exists (one an admin brings)."""
    python: str
    manifest: Manifest | None


def state(settings: Settings, name: str) -> ImageState:
    image = settings.images[name]
    manifest = read_manifest(settings.image_dir(name)) if image.built_by_dikte else None
    ready = (manifest is not None if image.built_by_dikte
             else os.access(image.python, os.X_OK))
    return ImageState(name=name, description=image.description,
                      built_by_dikte=image.built_by_dikte, ready=ready, python=image.python,
                      manifest=manifest)


def states(settings: Settings) -> list[ImageState]:
    return [state(settings, name) for name in sorted(settings.images)]


def choose_default(settings: Settings) -> str:
    """``default_image`` when the config names one; else the first ready of colab, minimal and
    then the other images by name; when none is ready, the first of those configured (a
    connect then says how to build it)."""
    if settings.default_image:
        return settings.default_image
    order = [n for n in PREFERRED if n in settings.images]
    order += sorted(n for n in settings.images if n not in PREFERRED)
    ready = [n for n in order if state(settings, n).ready]
    return (ready or order)[0]


def build_command(name: str) -> str:
    return f"dikte image build {name}"


def not_built_message(settings: Settings, name: str) -> str:
    """The sentence a person sees when a runtime asks for an image that is not built."""
    others = [s.name for s in states(settings) if s.ready]
    if others:
        return (f"The runtime image {name} is not built on this server yet. An administrator "
                f"builds it with: {build_command(name)}. Meanwhile choose another image "
                f"({', '.join(others)}) in Change runtime type.")
    shipped = [n for n in PREFERRED if n in settings.images and n in SHIPPED_IMAGES]
    if name in shipped and len(shipped) == 2:
        return ("No runtime image is built on this server yet. An administrator builds one "
                "with: dikte image build minimal (small, about a minute) or dikte image build "
                "colab (Colab's packages: several GB, several minutes).")
    return (f"No runtime image is built on this server yet. An administrator builds this one "
            f"with: {build_command(name)}.")


def require_ready(settings: Settings, name: str) -> None:
    """Refuse a runtime for an image Dikte builds that is not built, naming the command that
    builds it. Unknown names are left to the caller (``no_such_image``); an environment an
    admin brings is checked when its runtime starts."""
    if name not in settings.images:
        return
    current = state(settings, name)
    if current.built_by_dikte and not current.ready:
        raise BadRequest(not_built_message(settings, name), code="image_not_built",
                         log_message=f"runtime image {name} is not built "
                         f"({settings.image_dir(name)} has no {MANIFEST})")
