"""The runtime image tests use: the shipped ``minimal`` image, built once into a cache that
outlives test runs (``$DIKTE_TEST_IMAGES``, default ``~/.cache/dikte-test-images``) and rebuilt
only when its requirements change. Never the server's own virtualenv."""

from __future__ import annotations

import os
from pathlib import Path

from dikte.config import Settings
from dikte.images import build

TEST_IMAGE = "minimal"


def images_dir() -> Path:
    default = Path.home() / ".cache" / "dikte-test-images"
    return Path(os.environ.get("DIKTE_TEST_IMAGES", str(default)))


def ensure_test_image() -> Path:
    """Build the test image unless it is built and up to date; returns its python."""
    settings = Settings(images_dir=images_dir())
    build.build(settings, TEST_IMAGE, progress=lambda line: None)
    return Path(settings.images[TEST_IMAGE].python)
