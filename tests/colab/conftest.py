"""Fixtures for the Colab compatibility tests: real kernels in the real sandbox.

- From tests/runtimes: ``sandbox_host``, ``data_dir``, ``drive``, ``local_backend``, ``spec``,
  ``runtimes`` and ``tiny_wheel`` (see tests/runtimes/conftest.py).
- ``sandboxed``: factory ``await sandboxed(**spec_changes) -> RuntimeHandle``, a started local
  (bubblewrap) runtime over ``drive``, stopped at teardown.
- ``torch_wheelhouse`` (session): a folder holding the ``torch==2.13.0`` wheel and its
  dependencies, fetched by this machine's pip from its offline wheel directory and indexes.
- ``torch_site`` (session): torch installed from that folder into a folder of its own
  (``pip install --target``); tests put it on ``sys.path`` to use torch in this process.
  Both are made once into a cache that outlives test runs (``$DIKTE_TEST_TORCH``, default
  ``~/.cache/dikte-test-torch``), as the runtime image is, under a lock: workers wait for the
  first.

``run_cell`` (in ``cells.py``) runs code in a kernel and returns everything it produced.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dikte.runtimes.base import RuntimeHandle, RuntimeSpec
from dikte.runtimes.local import LocalBackend
from tests.runtimes import conftest as runtime_fixtures
from tests.runtimes.runtime_helpers import Runtimes

TORCH = "torch==2.13.0"

# the runtime tests' fixtures, by name
sandbox_host = runtime_fixtures.sandbox_host
data_dir = runtime_fixtures.data_dir
drive = runtime_fixtures.drive
local_backend = runtime_fixtures.local_backend
images = runtime_fixtures.images
spec = runtime_fixtures.spec
runtimes = runtime_fixtures.runtimes
tiny_wheel = runtime_fixtures.tiny_wheel


@pytest.fixture
def sandboxed(local_backend: LocalBackend, runtimes: Runtimes, spec: Callable[..., RuntimeSpec],
              drive: Path) -> Callable[..., Awaitable[RuntimeHandle]]:
    async def start(**changes: Any) -> RuntimeHandle:
        return await runtimes.start(local_backend, spec(drive, **changes))

    return start


def _pip(*args: str) -> None:
    r = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                       capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, f"pip {' '.join(args)} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"


def torch_cache() -> Path:
    default = Path.home() / ".cache" / "dikte-test-torch"
    folder = Path(os.environ.get("DIKTE_TEST_TORCH", str(default)))
    return folder / f"{TORCH.replace('==', '-')}-py{sys.version_info[0]}{sys.version_info[1]}"


@contextlib.contextmanager
def cached(folder: Path) -> Iterator[bool]:
    """Holds the cache's lock; says whether ``folder`` is complete. The caller makes it when
    not; it counts as complete when the block ends without an error."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    done = folder.with_name(folder.name + ".done")
    with open(folder.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            yield True
            return
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        yield False
        done.touch()


@pytest.fixture(scope="session")
def torch_wheelhouse() -> Path:
    wheels = torch_cache() / "wheels"
    with cached(wheels) as complete:
        if not complete:
            _pip("download", "--quiet", "--only-binary=:all:", "--dest", str(wheels), TORCH)
    assert any(p.name.startswith("torch-2.13.0") for p in wheels.iterdir())
    return wheels


@pytest.fixture(scope="session")
def torch_site(torch_wheelhouse: Path) -> Path:
    site = torch_cache() / "site"
    with cached(site) as complete:
        if not complete:
            _pip("install", "--quiet", "--no-index", "--find-links", str(torch_wheelhouse),
                 "--no-compile", "--target", str(site), TORCH)
    return site
