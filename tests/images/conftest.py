"""Fixtures for runtime image tests.

- ``requirements``: factory ``requirements(*extra) -> Path``, a requirements file for a small
  image (ipykernel at the shipped ``minimal`` image's versions, so uv's cache has them after the
  session's test image is built) plus ``extra`` lines.
- ``image_settings``: factory ``image_settings(**images) -> Settings`` with its own data dir and
  images dir, offering ``images`` (``name=ImageConfig``) besides nothing else.
- ``dikte``: runs ``python -m dikte.cli.main ARGS`` with ``DIKTE_IMAGES_DIR`` set to the test's
  own images dir (the one ``image_settings`` uses) and returns the completed process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dikte.config import ImageConfig, Settings, shipped_requirements


@pytest.fixture
def requirements(tmp_path: Path) -> Callable[..., Path]:
    made = iter(range(1000))

    def make(*extra: str) -> Path:
        path = tmp_path / f"requirements-{next(made)}.txt"
        path.write_text(f"-c {shipped_requirements('minimal')}\nipykernel\n"
                        + "".join(f"{line}\n" for line in extra))
        return path

    return make


@pytest.fixture
def image_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**images: ImageConfig) -> Settings:
        return Settings(data_dir=tmp_path / "data", images_dir=tmp_path / "images",
                        images=images)

    return make


@pytest.fixture
def images_env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "DIKTE_IMAGES_DIR": str(tmp_path / "images")}


@pytest.fixture
def dikte(images_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "dikte.cli.main", *args], text=True,
                              capture_output=True, stdin=subprocess.DEVNULL, timeout=300,
                              env=images_env, **kw)

    return run
