"""Handles to and from JSON-able state, so a restarted control plane can reattach."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dikte.errors import RuntimeUnavailable
from dikte.runtimes.base import RuntimeHandle, RuntimeSpec

STATE_VERSION = 1


def pid_of(handle: RuntimeHandle) -> int:
    """A local backend's runtime: the host pid of its top process (the sandbox launcher, or
    the kernel)."""
    return int(handle.private["pid"])


def instance_dir_of(handle: RuntimeHandle) -> Path:
    """A local backend's runtime: its instance space on this machine."""
    return Path(handle.private["instance_dir"])


def handle_to_state(backend: str, handle: RuntimeHandle) -> dict[str, Any]:
    return {
        "backend": backend, "version": STATE_VERSION, "runtime_id": handle.runtime_id,
        "connection": dict(handle.connection), "started_at": handle.started_at,
        "memory_limit": handle.memory_limit, "private": dict(handle.private),
        "node": handle.node,
    }


def handle_from_state(backend: str, state: dict[str, Any]) -> RuntimeHandle | None:
    """None when the state belongs to another backend or an older format."""
    if state.get("backend") != backend or state.get("version") != STATE_VERSION:
        return None
    private = dict(state["private"])
    for key in ("pid", "instance_dir"):  # recorded beside private by earlier versions
        if key in state:
            private.setdefault(key, state[key])
    return RuntimeHandle(
        runtime_id=state["runtime_id"], connection=dict(state["connection"]),
        started_at=float(state["started_at"]), memory_limit=int(state["memory_limit"]),
        private=private, node=str(state.get("node", "")),
    )


def image_pythons(settings: Any) -> dict[str, str]:
    """This machine's runtime images, name -> python, from its settings."""
    return {name: cfg.python for name, cfg in settings.images.items() if cfg.python}


def image_python(images: dict[str, str], image: str) -> str:
    """The python of runtime image ``image`` on this machine, or the refusal naming it."""
    python = images.get(image)
    if python is None:
        raise RuntimeUnavailable(
            f"The runtime image {image} is not on this machine.",
            log_message=f"no image {image!r} here; images: {sorted(images)}")
    return python


def python_of(handle: RuntimeHandle) -> str:
    """A local backend's runtime: the python of its image, as the backend found it at start."""
    return str(handle.private["spec"]["python"])


def spec_to_state(spec: RuntimeSpec, python: str = "") -> dict[str, Any]:
    """What restart_kernel needs to launch the same kernel again (kept in handle.private), with
    the image's ``python`` as the backend resolved it (a restart uses the same environment)."""
    return {"owner_id": spec.owner_id, "drive": spec.drive, "image": spec.image,
            **({"python": python} if python else {}),
            "cpu_weight": spec.cpu_weight, "env": dict(spec.env),
            "disk_bytes": spec.disk_bytes, "max_processes": spec.max_processes,
            "device_binds": [list(b) for b in spec.device_binds],
            "masked_paths": list(spec.masked_paths), "node": spec.node}


def spec_from_handle(handle: RuntimeHandle) -> RuntimeSpec:
    s = handle.private["spec"]
    return RuntimeSpec(
        runtime_id=handle.runtime_id, owner_id=int(s["owner_id"]),
        drive=_drive(s), image=str(s.get("image", "")), memory_bytes=handle.memory_limit,
        cpu_weight=int(s["cpu_weight"]), env=dict(s["env"]),
        disk_bytes=int(s.get("disk_bytes", RuntimeSpec.disk_bytes)),
        max_processes=int(s.get("max_processes", RuntimeSpec.max_processes)),
        device_binds=tuple((str(h), str(i)) for h, i in s.get("device_binds", [])),
        masked_paths=tuple(str(p) for p in s.get("masked_paths", [])),
        node=s.get("node", ""),
    )


def _drive(s: dict[str, Any]) -> str:
    """The drive's volume reference (earlier versions recorded its host path)."""
    return str(s["drive"]) if "drive" in s else Path(s["drive_root"]).name


def spec_to_dict(spec: RuntimeSpec) -> dict[str, Any]:
    """The whole spec as JSON-able data (it travels to a cluster node)."""
    return {**spec_to_state(spec), "runtime_id": spec.runtime_id,
            "memory_bytes": spec.memory_bytes}


def spec_from_dict(d: dict[str, Any]) -> RuntimeSpec:
    return RuntimeSpec(
        runtime_id=d["runtime_id"], owner_id=int(d["owner_id"]), drive=_drive(d),
        image=str(d["image"]), memory_bytes=int(d["memory_bytes"]),
        cpu_weight=int(d["cpu_weight"]),
        env=dict(d["env"]), disk_bytes=int(d["disk_bytes"]),
        max_processes=int(d["max_processes"]),
        device_binds=tuple((str(h), str(i)) for h, i in d.get("device_binds", [])),
        masked_paths=tuple(str(p) for p in d.get("masked_paths", [])), node=d.get("node", ""))
