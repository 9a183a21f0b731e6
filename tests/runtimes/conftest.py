"""Fixtures for runtime backend tests: real kernels in the real sandbox.

- ``sandbox_host`` (session): skips the test unless ``dikte doctor`` says this host can sandbox.
- ``data_dir``: an empty Dikte data dir holding a secret ``dikte.db`` no runtime may read.
- ``drive``: a person's drive directory with ``hello.txt`` in it.
- ``local_backend``: a :class:`LocalBackend` over ``data_dir`` (needs ``sandbox_host``).
- ``spec``: factory ``spec(drive, owner_id=1, **changes) -> RuntimeSpec`` with a fresh id and the
  test's own Python (the venv, which has ipykernel) as the image.
- ``runtimes``: factory ``await runtimes.start(backend, spec) -> RuntimeHandle``; every runtime it
  started is stopped at teardown, whatever the test did.
- ``tiny_wheel``: factory ``tiny_wheel(directory) -> Path`` writing a one-module wheel
  (``dikte_tiny``, ``VALUE = 42``) to install offline.

Helpers for talking to kernels live in ``runtime_helpers.py``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import string
import zipfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dikte.runtimes.base import RuntimeSpec
from dikte.runtimes.doctor import host_report
from dikte.runtimes.local import LocalBackend
from tests.runtimes.runtime_helpers import UID_BASE, Runtimes

SECRET = "control-plane-secret-7f3a"
IMAGE = "minimal"


@pytest.fixture(scope="session")
def sandbox_host() -> None:
    report = host_report(sandbox_uid_base=UID_BASE)
    if not report.sandbox_ok:
        pytest.skip("this host cannot run sandboxed runtimes:\n" + report.render())


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir(mode=0o700)
    (d / "dikte.db").write_text(SECRET)
    return d


@pytest.fixture
def drive(data_dir: Path) -> Path:
    """Person 1's drive, in the drives volume of the backends' data dir."""
    d = data_dir / "drives" / "1"
    d.mkdir(parents=True)
    (d / "hello.txt").write_text("hello from the drive")
    return d


@pytest.fixture
def images(runtime_image: Path) -> dict[str, str]:
    """The runtime images the tests' backends know: the tests' image, and one whose python
    does not exist."""
    return {IMAGE: str(runtime_image), "missing": "/nonexistent/python"}


@pytest.fixture
def local_backend(sandbox_host: None, data_dir: Path, images: dict[str, str]) -> LocalBackend:
    return LocalBackend(data_dir, sandbox_uid_base=UID_BASE, images=images)


def new_runtime_id() -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(12))


@pytest.fixture
def spec(runtime_image: Path) -> Callable[..., RuntimeSpec]:
    def make(drive: Path, owner_id: int = 1, **changes: Any) -> RuntimeSpec:
        base = RuntimeSpec(runtime_id=new_runtime_id(), owner_id=owner_id, drive=drive.name,
                           image=IMAGE, memory_bytes=2 << 30, cpu_weight=100)
        return replace(base, **changes)

    return make


@pytest.fixture
async def runtimes() -> AsyncIterator[Runtimes]:
    rts = Runtimes()
    yield rts
    for backend, handle in rts.started:
        await backend.stop(handle, grace=1.0)


@pytest.fixture
def tiny_wheel() -> Iterator[Callable[[Path], Path]]:
    def build(directory: Path) -> Path:
        files = {
            "dikte_tiny/__init__.py": b"VALUE = 42\n",
            "dikte_tiny-0.1.dist-info/METADATA":
                b"Metadata-Version: 2.1\nName: dikte-tiny\nVersion: 0.1\n",
            "dikte_tiny-0.1.dist-info/WHEEL":
                b"Wheel-Version: 1.0\nGenerator: dikte-tests\nRoot-Is-Purelib: true\n"
                b"Tag: py3-none-any\n",
        }
        record = []
        for name, data in files.items():
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{name},sha256={digest.decode()},{len(data)}")
        record.append("dikte_tiny-0.1.dist-info/RECORD,,")
        path = directory / "dikte_tiny-0.1-py3-none-any.whl"
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in files.items():
                zf.writestr(name, data)
            zf.writestr("dikte_tiny-0.1.dist-info/RECORD", "\n".join(record) + "\n")
        return path

    yield build
