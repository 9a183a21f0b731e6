"""The accelerators of this machine: discovered through NVML (unless turned off) and declared by
the admin. The control plane of one machine and the host process of each cluster node read
them the same way."""

from __future__ import annotations

from dikte.accelerators import merge
from dikte.accelerators.model import Device
from dikte.accelerators.nvml import discover
from dikte.config import AcceleratorConfig, Settings


def declared(cfg: AcceleratorConfig) -> Device:
    """A device as the admin declared it in the config."""
    return Device(id=cfg.id, type=cfg.type, model=cfg.model or cfg.type, memory_bytes=cfg.memory,
                  visible_id=cfg.visible_id or cfg.id, nodes=tuple(cfg.nodes), shared=cfg.shared,
                  reserved=cfg.reserved)


def inventory(settings: Settings) -> list[Device]:
    """Every accelerator of this machine: discovered (unless turned off) and declared."""
    found = discover() if settings.discover_gpus else []
    return merge(found, [declared(c) for c in settings.accelerators])
