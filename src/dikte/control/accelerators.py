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

from dikte.accelerators import bind_nodes, masked_paths, visible_env
from dikte.accelerators.model import Allocator, Device, FairQueue, Waiting, shape_request
from dikte.errors import BadRequest
from dikte.runtimes.devices import inventory as inventory

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """The request left the queue before a device freed."""


class AcceleratorService:
    def __init__(self, devices: Sequence[Device]) -> None:
        self.devices = list(devices)
        self.allocator = Allocator.of(devices)
        self.queue = FairQueue()
        self._grants: dict[str, asyncio.Future[list[Device]]] = {}
        self._unlisted: dict[str, set[str]] = {}
        """Devices a reattached runtime holds that were not listed (its node did not answer in
        time): held by it as soon as they are, never offered to another meanwhile."""
        self.on_queue_change: Callable[[], None] = lambda: None
        """Called after the line changed (to tell everyone waiting their new place)."""

    def types(self) -> dict[str, int]:
        return self.allocator.types()

    def update(self, devices: Sequence[Device]) -> None:
        """The devices there are now (a cluster's nodes come and go): new ones are offered and
        may serve those waiting; gone ones are offered no more (one still held stays on the
        books until its runtime ends)."""
        now = {d.id: d for d in devices}
        for did in list(self.allocator.devices):
            if did not in now and not self.allocator.holders.get(did):
                del self.allocator.devices[did]
        added = [d for did, d in now.items() if did not in self.allocator.devices]
        for d in added:
            self.allocator.devices[d.id] = d
            for runtime_id in self._unlisted.pop(d.id, ()):
                self.allocator.restore(runtime_id, [d.id])
        self.devices = list(self.allocator.devices.values())
        if added:
            self._dispatch()
            self.on_queue_change()

    def offers(self, shape: str) -> bool:
        """Whether this server has enough devices of the shape's type (free or not)."""
        type_, count = shape_request(shape)
        return self.types().get(type_, 0) >= count

    def check_offered(self, shape: str) -> None:
        """Refuse a shape this server has no (or too few) devices for."""
        if self.offers(shape):
            return
        type_, count = shape_request(shape)
        have = self.types().get(type_, 0)
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
        """Devices a runtime found running after a restart holds; those not listed (yet) are
        held for it when they are."""
        for did in device_ids:
            if did not in self.allocator.devices:
                self._unlisted.setdefault(did, set()).add(runtime_id)
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
        for did, holders in list(self._unlisted.items()):
            holders.discard(runtime_id)
            if not holders:
                del self._unlisted[did]
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
