"""Accelerators: which devices a runtime gets, and who waits for the next free one.

Pure bookkeeping, no I/O. The inventory (``dikte.accelerators``) says which devices exist; the
:class:`Allocator` hands them out, never giving one device to two runtimes unless the device is
declared ``shared``; the :class:`FairQueue` orders the people waiting: higher tier priority first,
then arrival. Waiting is per accelerator type: a queue for T4s never holds up an A100 request.

A shape names the type and, optionally, a count: ``"T4"`` is one T4, ``"2xA100"`` two A100s of
the same machine.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

_MULTI = re.compile(r"([1-9][0-9]?)x(.+)")


def shape_request(shape: str) -> tuple[str, int]:
    """The accelerator type and device count a shape asks for: ``"2xA100"`` -> ``("A100", 2)``."""
    m = _MULTI.fullmatch(shape)
    if m:
        return m.group(2), int(m.group(1))
    return shape, 1


@dataclass(frozen=True, slots=True)
class Device:
    """One allocatable accelerator: a whole GPU or a MIG instance."""

    id: str
    """Stable name: the GPU's or MIG instance's UUID, or the id an admin declared."""
    type: str
    """The accelerator type people ask for ("T4", "A100"); the shape's name."""
    model: str = ""
    """The model as the driver names it, e.g. "Tesla T4"."""
    memory_bytes: int = 0
    index: int | None = None
    """The driver's index of the GPU (of the parent GPU for a MIG instance)."""
    visible_id: str = ""
    """What ``CUDA_VISIBLE_DEVICES`` names it by: its UUID (``GPU-...``/``MIG-...``) or index."""
    nodes: tuple[str, ...] = ()
    """Device nodes of this device alone, bound into the sandbox (e.g. /dev/nvidia0)."""
    shared: bool = False
    """The admin allows several runtimes on this device at once."""
    reserved: bool = False
    """The admin keeps this device out of allocation."""
    mig_parent: str | None = None
    """The parent GPU's UUID when this is a MIG instance."""
    bus_id: str = ""
    """PCI bus id as /proc/driver/nvidia/gpus names it (``0000:17:00.0``); empty if unknown."""
    node: str = ""
    """The cluster node it is on (its runtimes run there); empty on one machine."""


@dataclass
class Allocator:
    """Who holds which device. One runtime holds all its devices or none."""

    devices: dict[str, Device] = field(default_factory=dict)
    holders: dict[str, set[str]] = field(default_factory=dict)
    """device id -> runtime ids holding it."""

    @classmethod
    def of(cls, devices: Iterable[Device]) -> Allocator:
        return cls(devices={d.id: d for d in devices})

    def types(self) -> dict[str, int]:
        """Allocatable devices per type (reserved ones left out)."""
        out: dict[str, int] = {}
        for d in self.devices.values():
            if not d.reserved:
                out[d.type] = out.get(d.type, 0) + 1
        return out

    def held_by(self, runtime_id: str) -> list[Device]:
        return [self.devices[d] for d, who in sorted(self.holders.items()) if runtime_id in who]

    def free(self, type_: str) -> list[Device]:
        """Devices of ``type_`` a new runtime could get now, unshared ones first."""
        out = [d for d in self.devices.values() if d.type == type_ and not d.reserved
               and (d.shared or not self.holders.get(d.id))]
        return sorted(out, key=lambda d: (d.shared, len(self.holders.get(d.id, ())),
                                          d.index if d.index is not None else 1 << 30, d.id))

    def can_allocate(self, shape: str) -> bool:
        type_, count = shape_request(shape)
        return len(self.free(type_)) >= count

    def allocate(self, runtime_id: str, shape: str) -> list[Device] | None:
        """The devices for a new runtime of ``shape``, or None when too few are free."""
        type_, count = shape_request(shape)
        free = self.free(type_)
        if len(free) < count:
            return None
        got = free[:count]
        for d in got:
            self.holders.setdefault(d.id, set()).add(runtime_id)
        return got

    def restore(self, runtime_id: str, device_ids: Sequence[str]) -> list[Device]:
        """Mark devices as held by a runtime found running after a restart. Devices that no
        longer exist are skipped (and returned lists say so by being shorter)."""
        got = []
        for did in device_ids:
            if did in self.devices:
                self.holders.setdefault(did, set()).add(runtime_id)
                got.append(self.devices[did])
        return got

    def release(self, runtime_id: str) -> list[Device]:
        """Give back what ``runtime_id`` holds; returns the devices that were freed."""
        freed = []
        for did, who in list(self.holders.items()):
            if runtime_id in who:
                who.discard(runtime_id)
                freed.append(self.devices[did])
                if not who:
                    del self.holders[did]
        return freed


@dataclass(frozen=True, slots=True)
class Waiting:
    """One request waiting for accelerators."""

    key: str
    """The request's id (the runtime it will become)."""
    person_id: int
    shape: str
    priority: int
    """The person's tier's queue priority; higher goes first."""
    arrived_at: float


@dataclass
class FairQueue:
    """Requests waiting for accelerators: tier priority first, then arrival, per type."""

    entries: list[Waiting] = field(default_factory=list)

    def add(self, w: Waiting) -> None:
        if any(e.key == w.key for e in self.entries):
            raise ValueError(f"{w.key} is already waiting")
        self.entries.append(w)

    def remove(self, key: str) -> Waiting | None:
        for i, e in enumerate(self.entries):
            if e.key == key:
                return self.entries.pop(i)
        return None

    def ordered(self, type_: str | None = None) -> list[Waiting]:
        out = [e for e in self.entries if type_ is None or shape_request(e.shape)[0] == type_]
        return sorted(out, key=lambda e: (-e.priority, e.arrived_at, e.key))

    def position(self, key: str) -> int | None:
        """1 for the next to be served among requests of the same type; None if not waiting."""
        entry = next((e for e in self.entries if e.key == key), None)
        if entry is None:
            return None
        line = self.ordered(shape_request(entry.shape)[0])
        return line.index(entry) + 1

    def grantable(self, allocator: Allocator) -> list[Waiting]:
        """The requests that may start now, in order. Within a type the line is strict: when
        its head cannot be served (it asks for more devices than are free), nobody behind it
        jumps ahead, so a two-GPU request is not starved by one-GPU requests."""
        out: list[Waiting] = []
        trial = Allocator(devices=allocator.devices,
                          holders={k: set(v) for k, v in allocator.holders.items()})
        for type_ in sorted({shape_request(e.shape)[0] for e in self.entries}):
            for e in self.ordered(type_):
                if trial.allocate(e.key, e.shape) is None:
                    break
                out.append(e)
        return out
