"""Fixtures for the Colab compatibility tests: real kernels in the real sandbox.

- From tests/runtimes: ``sandbox_host``, ``data_dir``, ``drive``, ``local_backend``, ``spec``,
  ``runtimes`` and ``tiny_wheel`` (see tests/runtimes/conftest.py).
- ``sandboxed``: factory ``await sandboxed(**spec_changes) -> RuntimeHandle``, a started local
  (bubblewrap) runtime over ``drive``, stopped at teardown.
- ``torch_wheelhouse`` (session): a folder holding the ``torch==2.13.0`` wheel and its
  dependencies, fetched by this machine's pip from its offline wheel directory and indexes.
- ``torch_site`` (session): torch installed from that folder into a folder of its own
  (``pip install --target``); tests put it on ``sys.path`` to use torch in this process.

``run_cell`` (in ``cells.py``) runs code in a kernel and returns everything it produced.
"""

from __future__ import annotations

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


@pytest.fixture(scope="session")
def torch_wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wheels = tmp_path_factory.mktemp("wheelhouse")
    _pip("download", "--quiet", "--only-binary=:all:", "--dest", str(wheels), TORCH)
    assert any(p.name.startswith("torch-2.13.0") for p in wheels.iterdir())
    return wheels


@pytest.fixture(scope="session")
def torch_site(tmp_path_factory: pytest.TempPathFactory, torch_wheelhouse: Path) -> Iterator[Path]:
    site = tmp_path_factory.mktemp("torch-site")
    _pip("install", "--quiet", "--no-index", "--find-links", str(torch_wheelhouse),
         "--no-compile", "--target", str(site), TORCH)
    yield site
    shutil.rmtree(site, ignore_errors=True)  # most of a gigabyte; pytest keeps old temp dirs
