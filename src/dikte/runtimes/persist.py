"""Handles to and from JSON-able state, so a restarted control plane can reattach."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dikte.runtimes.base import RuntimeHandle, RuntimeSpec

STATE_VERSION = 1


def handle_to_state(backend: str, handle: RuntimeHandle) -> dict[str, Any]:
    return {
        "backend": backend, "version": STATE_VERSION, "runtime_id": handle.runtime_id,
        "pid": handle.pid, "connection": dict(handle.connection),
        "instance_dir": str(handle.instance_dir), "started_at": handle.started_at,
        "memory_limit": handle.memory_limit, "private": dict(handle.private),
    }


def handle_from_state(backend: str, state: dict[str, Any]) -> RuntimeHandle | None:
    """None when the state belongs to another backend or an older format."""
    if state.get("backend") != backend or state.get("version") != STATE_VERSION:
        return None
    return RuntimeHandle(
        runtime_id=state["runtime_id"], pid=int(state["pid"]),
        connection=dict(state["connection"]), instance_dir=Path(state["instance_dir"]),
        started_at=float(state["started_at"]), memory_limit=int(state["memory_limit"]),
        private=dict(state["private"]),
    )


def spec_to_state(spec: RuntimeSpec) -> dict[str, Any]:
    """What restart_kernel needs to launch the same kernel again (kept in handle.private)."""
    return {"owner_id": spec.owner_id, "drive_root": str(spec.drive_root), "python": spec.python,
            "cpu_weight": spec.cpu_weight, "env": dict(spec.env),
            "disk_bytes": spec.disk_bytes, "max_processes": spec.max_processes,
            "device_binds": [list(b) for b in spec.device_binds],
            "masked_paths": list(spec.masked_paths)}


def spec_from_handle(handle: RuntimeHandle) -> RuntimeSpec:
    s = handle.private["spec"]
    return RuntimeSpec(
        runtime_id=handle.runtime_id, owner_id=int(s["owner_id"]),
        drive_root=Path(s["drive_root"]), python=s["python"], memory_bytes=handle.memory_limit,
        cpu_weight=int(s["cpu_weight"]), env=dict(s["env"]),
        disk_bytes=int(s.get("disk_bytes", RuntimeSpec.disk_bytes)),
        max_processes=int(s.get("max_processes", RuntimeSpec.max_processes)),
        device_binds=tuple((str(h), str(i)) for h, i in s.get("device_binds", [])),
        masked_paths=tuple(str(p) for p in s.get("masked_paths", [])),
    )
