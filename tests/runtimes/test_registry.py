"""Runtime backends are found by name through entry points, as JupyterHub finds spawners."""

from __future__ import annotations

from pathlib import Path

import pytest

from dikte.app import make_backend
from dikte.config import load_settings
from dikte.errors import SandboxUnavailable
from dikte.runtimes import registry
from dikte.runtimes.base import RuntimeHandle
from dikte.runtimes.unsandboxed import UnsandboxedBackend


def test_the_shipped_backends_are_installed_entry_points() -> None:
    assert {"local", "ray", "unsandboxed"} <= set(registry.available())


def test_the_configured_backend_is_made_by_its_entry_point(tmp_path: Path) -> None:
    backend = make_backend(load_settings(None, data_dir=tmp_path, unsafe_no_sandbox=True))
    assert isinstance(backend, UnsandboxedBackend)
    assert backend.content_root(_handle(tmp_path)) == str(tmp_path / "rt" / "content")


def _handle(tmp_path: Path) -> RuntimeHandle:
    return RuntimeHandle(runtime_id="abcdefabcdef", connection={}, started_at=0.0,
                         memory_limit=1, private={"pid": 1, "instance_dir": str(tmp_path / "rt")})


def test_an_unknown_backend_is_refused_naming_the_installed_ones(tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=tmp_path, runtime_backend="kubernetes")
    with pytest.raises(SandboxUnavailable) as err:
        make_backend(settings)
    assert err.value.message.startswith("There is no runtime backend 'kubernetes'; installed: ")
    assert "local" in err.value.message and "ray" in err.value.message


def test_the_ray_backend_needs_an_address(tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=tmp_path, runtime_backend="ray")
    with pytest.raises(SandboxUnavailable, match="ray_address is empty"):
        make_backend(settings)
    settings = load_settings(None, data_dir=tmp_path, runtime_backend="ray", ray_address="local")
    with pytest.raises(SandboxUnavailable, match="No local cluster runs for this data dir"):
        make_backend(settings)
