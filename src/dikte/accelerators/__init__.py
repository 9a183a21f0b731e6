"""The accelerators this server hands out: discovered through NVML, adjusted by the config.

:func:`inventory` merges what NVML finds with what the admin declares (``[[accelerators]]``): a
declared entry whose ``id`` is a discovered UUID regroups, shares or reserves that device; any
other declared entry adds a device (one NVML cannot see, or, in tests, a stand-in with its own
device node). Allocation and the queue are pure (:mod:`dikte.accelerators.model`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import replace

from dikte.accelerators.model import Device

COMMON_NODES = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset")
"""Driver nodes every GPU runtime needs besides its own devices' nodes (bound when present)."""


def merge(discovered: Sequence[Device], declared: Sequence[Device]) -> list[Device]:
    """Discovered devices changed by the declared ones with their id (type, sharing,
    reservation, and model and nodes where given), then the other declared devices."""
    by_id = {d.id: d for d in declared}
    out = []
    for d in discovered:
        cfg = by_id.pop(d.id, None)
        if cfg is not None:
            d = replace(d, type=cfg.type, shared=cfg.shared, reserved=cfg.reserved,
                        model=cfg.model if cfg.model != cfg.type else d.model,
                        nodes=cfg.nodes or d.nodes)
        out.append(d)
    out.extend(d for d in declared if d.id in by_id)
    return out


def bind_nodes(devices: Sequence[Device]) -> list[tuple[str, str]]:
    """(host path, sandbox path) of every device node a runtime with ``devices`` gets: each
    device's own nodes, and the driver's common nodes when the runtime has a real NVIDIA GPU."""
    pairs: list[tuple[str, str]] = []
    for d in devices:
        for node in d.nodes:
            host, _, inside = node.partition(":")
            pairs.append((host, inside or host))
    if any(inside.startswith("/dev/nvidia") and host == inside for host, inside in pairs):
        pairs += [(n, n) for n in COMMON_NODES if os.path.exists(n)]
    seen: set[str] = set()
    unique = []
    for host, inside in pairs:
        if inside not in seen:
            seen.add(inside)
            unique.append((host, inside))
    return unique


GPU_PROC = "/proc/driver/nvidia/gpus"


def masked_paths(all_devices: Sequence[Device], mine: Sequence[Device],
                 proc: str = GPU_PROC) -> list[str]:
    """The other GPUs' /proc/driver/nvidia/gpus entries, hidden so that tools in the runtime
    (nvidia-smi) list only its own GPUs."""
    keep = {d.bus_id for d in mine}
    others = sorted({d.bus_id for d in all_devices if d.bus_id and d.bus_id not in keep})
    return [f"{GPU_PROC}/{b}" for b in others if os.path.isdir(f"{proc}/{b}")]


def visible_env(devices: Sequence[Device]) -> dict[str, str]:
    """``CUDA_VISIBLE_DEVICES`` and ``NVIDIA_VISIBLE_DEVICES`` naming exactly ``devices``; for
    NVIDIA GPUs also where the driver's libraries and tools are when they lie outside the
    standard paths (``LD_LIBRARY_PATH`` of the server, the directory of ``nvidia-smi``)."""
    ids = ",".join(d.visible_id or d.id for d in devices)
    env = {"CUDA_VISIBLE_DEVICES": ids, "NVIDIA_VISIBLE_DEVICES": ids,
           "DIKTE_ACCELERATORS": ",".join(d.id for d in devices)}
    if any(n.startswith("/dev/nvidia") for d in devices for n in d.nodes):
        if os.environ.get("LD_LIBRARY_PATH"):
            env["LD_LIBRARY_PATH"] = os.environ["LD_LIBRARY_PATH"]
        smi = shutil.which("nvidia-smi")
        folder = os.path.dirname(smi) if smi else ""
        if folder and folder not in ("/usr/bin", "/bin", "/usr/local/bin"):
            env["DIKTE_PATH_SUFFIX"] = folder
    return env
