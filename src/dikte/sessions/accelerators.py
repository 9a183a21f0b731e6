"""Hands the server's accelerators to runtimes, and keeps the line of those waiting.

Allocation and queue order are pure (:mod:`dikte.accelerators.model`); this module holds the
state of this server, wakes the waiting request a freed device can serve, and tells people their
place in line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from dikte.accelerators import bind_nodes, masked_paths, merge, visible_env
from dikte.accelerators.model import Allocator, Device, FairQueue, Waiting, shape_request
from dikte.accelerators.nvml import discover
from dikte.config import AcceleratorConfig, Settings
from dikte.errors import BadRequest

log = logging.getLogger(__name__)


def declared(cfg: AcceleratorConfig) -> Device:
    """A device as the admin declared it in the config."""
    return Device(id=cfg.id, type=cfg.type, model=cfg.model or cfg.type, memory_bytes=cfg.memory,
                  visible_id=cfg.visible_id or cfg.id, nodes=tuple(cfg.nodes), shared=cfg.shared,
                  reserved=cfg.reserved)


def inventory(settings: Settings) -> list[Device]:
    """Every accelerator of this server: discovered (unless turned off) and declared."""
    found = discover() if settings.discover_gpus else []
    return merge(found, [declared(c) for c in settings.accelerators])


class Cancelled(Exception):
    """The request left the queue before a device freed."""


class AcceleratorService:
    def __init__(self, devices: Sequence[Device]) -> None:
        self.devices = list(devices)
        self.allocator = Allocator.of(devices)
        self.queue = FairQueue()
        self._grants: dict[str, asyncio.Future[list[Device]]] = {}
        self.on_queue_change: Callable[[], None] = lambda: None
        """Called after the line changed (to tell everyone waiting their new place)."""

    def types(self) -> dict[str, int]:
        return self.allocator.types()

    def check_offered(self, shape: str) -> None:
        """Refuse a shape this server has no (or too few) devices for."""
        type_, count = shape_request(shape)
        have = self.types().get(type_, 0)
        if have >= count:
            return
        offered = ", ".join(f"{n} {t}" for t, n in sorted(self.types().items())) or "none"
        raise BadRequest(
            f"This server has {have or 'no'} {type_} accelerator{'s' if have != 1 else ''}"
            f"{f', too few for {count}' if have else ''}. Accelerators here: {offered}. "
            "Choose another runtime type.", code="no_such_accelerator")

    def try_allocate(self, runtime_id: str, shape: str) -> list[Device] | None:
        """Devices now, unless they are all taken or others of the same type wait ahead."""
        if self.queue.ordered(shape_request(shape)[0]):
            return None
        return self.allocator.allocate(runtime_id, shape)

    def enqueue(self, runtime_id: str, person_id: int, shape: str,
                priority: int) -> asyncio.Future[list[Device]]:
        fut: asyncio.Future[list[Device]] = asyncio.get_running_loop().create_future()
        self._grants[runtime_id] = fut
        self.queue.add(Waiting(runtime_id, person_id, shape, priority, time.time()))
        self._dispatch()  # a device may be free with nobody ahead
        self.on_queue_change()
        return fut

    def position(self, runtime_id: str) -> int | None:
        return self.queue.position(runtime_id)

    def restore(self, runtime_id: str, device_ids: Sequence[str]) -> list[Device]:
        return self.allocator.restore(runtime_id, device_ids)

    def held_by(self, runtime_id: str) -> list[Device]:
        return self.allocator.held_by(runtime_id)

    def end(self, runtime_id: str) -> None:
        """The runtime (or the request) is gone: leave the line, free its devices, serve the next."""
        left = self.queue.remove(runtime_id) is not None
        fut = self._grants.pop(runtime_id, None)
        if fut is not None and not fut.done():
            fut.set_exception(Cancelled())
            fut.exception()  # retrieved: nobody need await a cancelled request
        freed = self.allocator.release(runtime_id)
        if freed:
            self._dispatch()
        if freed or left:
            self.on_queue_change()

    def _dispatch(self) -> None:
        for w in self.queue.grantable(self.allocator):
            devices = self.allocator.allocate(w.key, w.shape)
            if devices is None:  # grantable() said it fits; keep the books straight regardless
                continue
            self.queue.remove(w.key)
            fut = self._grants.pop(w.key, None)
            if fut is None or fut.done():
                self.allocator.release(w.key)
                continue
            log.info("accelerators %s go to %s", [d.id for d in devices], w.key)
            fut.set_result(devices)

    def runtime_extras(self, devices: Sequence[Device]) -> tuple[dict[str, str],
                                                                 tuple[tuple[str, str], ...],
                                                                 tuple[str, ...]]:
        """Environment, device binds and masked paths for a runtime holding ``devices``."""
        return (visible_env(devices), tuple(bind_nodes(devices)),
                tuple(masked_paths(self.devices, devices)))

    def snapshot(self) -> dict[str, object]:
        """What the admin page shows: devices with their holders, and the line."""
        return {
            "devices": [
                {"id": d.id, "type": d.type, "model": d.model, "memory_bytes": d.memory_bytes,
                 "shared": d.shared, "reserved": d.reserved, "mig_parent": d.mig_parent,
                 "holders": sorted(self.allocator.holders.get(d.id, ()))}
                for d in self.devices],
            "queue": [{"runtime_id": w.key, "person_id": w.person_id, "shape": w.shape,
                       "priority": w.priority, "arrived_at": w.arrived_at,
                       "position": self.queue.position(w.key)}
                      for w in self.queue.ordered()],
        }
