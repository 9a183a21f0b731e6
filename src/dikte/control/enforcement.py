"""Applies the tiers' rules (pure, in ``dikte.policy``) to people's runtimes.

Admission runs at every connect; the reaper checks every runtime every ``reaper_seconds`` and
warns its viewers before it stops one for a time limit, then stops it with the reason. It also
warns when a runtime's disk is nearly full (:mod:`dikte.policy.disk`). A drive's size counts what
the person's runtimes hold open of files deleted from it (measured with their usage).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from dikte.accelerators.model import shape_request
from dikte.control.runtime_link import link_of
from dikte.db.usage import runtime_intervals
from dikte.policy import (
    CPU_SHAPES,
    AdmissionSnapshot,
    RuntimeInterval,
    RuntimeSnapshot,
    Tier,
    decide_admission,
    decide_lifecycle,
    is_accelerator_shape,
    next_reset,
    shape_label,
    usage_today,
)
from dikte.policy.disk import disk_advice

if TYPE_CHECKING:
    from dikte.config import Settings
    from dikte.control.accelerators import AcceleratorService
    from dikte.db import Database
    from dikte.notebooks.notebook import OpenNotebook

log = logging.getLogger(__name__)

SHAPE = "standard"
TIER_CACHE_SECONDS = 10.0


_unknown_tiers: set[tuple[int, str]] = set()


def tier_for(settings: Settings, db: Database, person_id: int) -> tuple[str, Tier]:
    """A person's tier (name and limits); the default tier when none or an unknown one is set."""
    person = db.person(person_id)
    name = getattr(person, "tier", None) or settings.default_tier
    if name not in settings.tiers:
        if (person_id, name) not in _unknown_tiers:  # once per person, not on every check
            _unknown_tiers.add((person_id, name))
            log.warning("person %s has unknown tier %r; using %r", person_id, name,
                        settings.default_tier)
        name = settings.default_tier
    return name, settings.tiers[name]


class Enforcer:
    def __init__(self, settings: Settings, db: Database,
                 notebooks: Mapping[tuple[int, str], OpenNotebook],
                 accelerators: AcceleratorService,
                 disconnect: Callable[[OpenNotebook, str], Awaitable[None]]) -> None:
        """``notebooks``: the open notebooks (the manager's live map, read, never changed);
        ``disconnect``: how the reaper ends a runtime (the manager's, which owns them)."""
        self.settings = settings
        self.db = db
        self.notebooks = notebooks
        self.accelerators = accelerators
        self.disconnect = disconnect
        self._connects: dict[int, list[float]] = {}
        self._drive_sizes: dict[int, tuple[float, int]] = {}
        self._tiers: dict[int, tuple[float, tuple[str, Tier]]] = {}
        self._task: asyncio.Task[None] | None = None

    def tier_of(self, person_id: int) -> tuple[str, Tier]:
        """The person's tier, read from the database at most every TIER_CACHE_SECONDS: the
        reaper asks for every runtime every second, on the event loop."""
        now = time.monotonic()
        cached = self._tiers.get(person_id)
        if cached is not None and now - cached[0] < TIER_CACHE_SECONDS:
            return cached[1]
        tier = tier_for(self.settings, self.db, person_id)
        self._tiers[person_id] = (now, tier)
        return tier

    def forget_tier(self, person_id: int) -> None:
        """The person's tier changed: read it again next time."""
        self._tiers.pop(person_id, None)

    def runtime_limits(self, person_id: int, shape_name: str = SHAPE) -> tuple[int, int]:
        """RAM and disk of a new runtime: the tier's for its shape, capped by the host settings."""
        return tier_limits(self.settings, self.tier_of(person_id)[1], shape_name)

    def runtime_processes(self, person_id: int) -> int:
        """Most processes and threads of a new runtime: the tier's ``max_processes``."""
        return self.tier_of(person_id)[1].max_processes

    def held_drive_bytes(self, person_id: int) -> int:
        """Bytes of files deleted from the person's drive that their runtimes still hold open,
        as last measured (they take room on the drive's disk until closed)."""
        links = [link_of(nb) for nb in self.notebooks.values() if nb.person_id == person_id]
        return sum(link.last_usage.drive_held_bytes for link in links
                   if link is not None and link.last_usage is not None)

    def intervals(self, person_id: int, now: float) -> list[RuntimeInterval]:
        """The person's runtimes of the last two days as the ledger's start/stop events."""
        return [RuntimeInterval(rid, shape, is_accelerator_shape(shape), start, stop)
                for rid, shape, _background, start, stop in runtime_intervals(
                    self.db, person_id, now - 2 * 86400)]

    def accelerator_seconds(self, person_id: int, now: float) -> float:
        """Accelerator seconds the person used in the current reset window."""
        today = usage_today(self.intervals(person_id, now), now, self.settings.usage_reset)
        return float(sum(today.accelerator_s.values()))

    async def drive_bytes(self, nb: OpenNotebook, now: float) -> int:
        """The drive's size, measured at most every ``disk_check_seconds`` per person, with what
        the person's runtimes hold open of files deleted from it."""
        seen = self._drive_sizes.get(nb.person_id)
        if seen is None or now - seen[0] >= self.settings.disk_check_seconds:
            size = await asyncio.to_thread(nb.drive.usage_bytes)
            seen = self._drive_sizes[nb.person_id] = (now, size)
        return seen[1] + self.held_drive_bytes(nb.person_id)

    def _snapshot(self, person_id: int, exclude: OpenNotebook | None, shape: str,
                  background: bool, now: float, drive_bytes: int,
                  accelerator_s: float | None = None) -> AdmissionSnapshot:
        """``accelerator_s``: today's accelerator seconds when the caller has them already."""
        name, tier = self.tier_of(person_id)
        window = self._connects.setdefault(person_id, [])
        window[:] = [t for t in window if t > now - tier.connect_window_s]
        held: dict[str, int] = {}
        held_background = 0
        for other in self.notebooks.values():
            link = link_of(other)
            if other.person_id == person_id and link is not None and other is not exclude:
                held[link.shape] = held.get(link.shape, 0) + 1
                held_background += link.background
        return AdmissionSnapshot(
            tier=tier, tier_name=name, shape=shape, background=background, sessions=held,
            background_sessions=held_background,
            accelerator_seconds_today=(0.0 if not is_accelerator_shape(shape) else
                                       accelerator_s if accelerator_s is not None else
                                       self.accelerator_seconds(person_id, now)),
            recent_connects=list(window), now=now, reset=self.settings.usage_reset,
            all_tiers=self.settings.tiers, drive_bytes=drive_bytes)

    def admit(self, nb: OpenNotebook, shape: str = SHAPE, background: bool = False,
              measured: tuple[int, float | None] | None = None) -> None:
        """Raise the refusal (a sentence naming the limit) when this connect is not allowed.
        ``measured``: the drive's size and today's accelerator seconds, read off the event
        loop by the caller (else read here)."""
        now = time.time()
        size, accel = measured if measured is not None else (nb.drive.usage_bytes(), None)
        drive = size + self.held_drive_bytes(nb.person_id)
        decision = decide_admission(self._snapshot(nb.person_id, nb, shape, background, now,
                                                   drive, accel))
        if not decision.allowed:
            raise decision.to_error()
        self._connects[nb.person_id].append(now)

    def shape_offers(self, person_id: int, drive_bytes: int,
                     accelerator_s: float | None = None) -> list[dict[str, Any]]:
        """Every runtime type this server has, and whether (and why not) the person may have one
        now: what "Change runtime type" lists. ``accelerator_s``: today's accelerator seconds,
        when the caller measured them (off the event loop)."""
        now = time.time()
        _, tier = self.tier_of(person_id)
        accel = self.accelerators
        types = accel.types()
        shapes = [*CPU_SHAPES, *sorted(types)]
        shapes += sorted(k for k in tier.shapes if k not in shapes and is_accelerator_shape(k)
                         and shape_request(k)[0] in types)
        used_s = (0.0 if not types else accelerator_s if accelerator_s is not None
                  else self.accelerator_seconds(person_id, now))  # one query for all
        out = []
        for shape in shapes:
            type_, count = shape_request(shape)
            is_accel = is_accelerator_shape(shape)
            if is_accel and types.get(type_, 0) < count:
                continue
            decision = decide_admission(self._snapshot(person_id, None, shape, False, now,
                                                       drive_bytes, used_s))
            limits = tier.shapes.get(shape)
            out.append({
                "shape": shape, "label": shape_label(shape), "accelerator": type_ if is_accel else None,
                "devices": types.get(type_, 0) if is_accel else 0,
                "free": len(accel.allocator.free(type_)) if is_accel else 0,
                "waiting": len(accel.queue.ordered(type_)) if is_accel else 0,
                "memory": self.runtime_limits(person_id, shape)[0] if limits else None,
                "allowed": decision.allowed or decision.code == "connect_rate",
                "reason": None if decision.allowed else decision.message,
            })
        return out

    def usage(self, person_id: int) -> dict[str, Any]:
        """What "My usage" shows: the tier, today's use and when it resets."""
        now = time.time()
        name, tier = self.tier_of(person_id)
        reset = self.settings.usage_reset
        today = usage_today(self.intervals(person_id, now), now, reset)
        used_accel = sum(today.accelerator_s.values()) / 3600
        return {
            "tier": name, "limits": tier.model_dump(mode="json"),
            "runtime_seconds_today": dict(today.runtime_s),
            "accelerator_seconds_today": dict(today.accelerator_s),
            "accelerator_hours_used": round(used_accel, 3),
            "accelerator_hours_left": round(max(0.0, tier.daily_accelerator_hours - used_accel), 3),
            "resets_at": next_reset(now, reset), "reset": reset.model_dump(),
        }

    # the reaper

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="reaper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.reaper_seconds)
            try:
                await self.check(time.time())
            except Exception:
                log.exception("the reaper failed this round")

    async def check(self, now: float) -> None:
        accelerated: dict[int, int] = {}
        for nb in self.notebooks.values():
            link = link_of(nb)
            if link is not None and link.status == "connected" and is_accelerator_shape(link.shape):
                accelerated[nb.person_id] = accelerated.get(nb.person_id, 0) + 1
        # each person's accelerator time once per round, not once per runtime, off the loop
        used_s = {pid: await asyncio.to_thread(self.accelerator_seconds, pid, now)
                  for pid in accelerated}
        for nb in list(self.notebooks.values()):
            link = link_of(nb)
            if link is None or link.status != "connected":
                continue
            self._disk_notice(nb, now)
            _, tier = self.tier_of(nb.person_id)
            gpu = is_accelerator_shape(link.shape)
            decision = decide_lifecycle(RuntimeSnapshot(
                tier=tier, started_at=link.started_at, last_activity=nb.last_activity,
                busy=nb.running is not None, viewers=len(nb.audience),
                last_viewer_left_at=nb.last_viewer_left_at, background=link.background,
                shape=link.shape,
                accelerator_seconds_today=used_s.get(nb.person_id, 0.0) if gpu else 0.0,
                accelerator_runtimes=accelerated.get(nb.person_id, 1),
                drive_bytes=await self.drive_bytes(nb, now), now=now,
                reset=self.settings.usage_reset, warned_at=link.warned_at))
            if decision.kind == "warn":
                link.warned_at[decision.code] = now
                notice = {"code": decision.code, "message": decision.message, "at": decision.at}
                nb.broadcast({"type": "notice", "level": "warning", **notice})
                if link.handle is not None:  # the kernel's preemption notice (checkpoint now)
                    try:
                        await link.backend.notify(link.handle, notice)
                    except Exception:
                        log.warning("no preemption notice for %s", link.runtime_id,
                                    exc_info=True)
            elif decision.kind == "stop":
                log.info("stopping runtime %s: %s", link.runtime_id, decision.message)
                await self.disconnect(nb, decision.message)

    def _disk_notice(self, nb: OpenNotebook, now: float) -> None:
        """Warn the viewers once when the runtime's disk is nearly full (see policy.disk)."""
        link = link_of(nb)
        if link is None or link.last_usage is None:
            return
        warned = "disk_almost_full" in link.warned_at
        advice = disk_advice(link.last_usage.disk_bytes, link.disk_limit, warned)
        if advice.message is not None:
            nb.broadcast({"type": "notice", "level": "warning", "code": "disk_almost_full",
                          "message": advice.message})  # no "at": nothing will stop it
        if advice.warned and not warned:
            link.warned_at["disk_almost_full"] = now
        elif not advice.warned:
            link.warned_at.pop("disk_almost_full", None)


def tier_limits(settings: Settings, tier: Tier, shape_name: str = SHAPE) -> tuple[int, int]:
    """RAM and disk of a runtime of the tier's shape, capped by the host settings."""
    shape = tier.shapes.get(shape_name)
    memory, disk = settings.runtime_memory, settings.runtime_disk
    if shape is not None and shape.memory:
        memory = min(memory, shape.memory)
    if shape is not None and shape.disk:
        disk = min(disk, shape.disk)
    return memory, disk
