"""Applies the tiers' rules (pure, in ``dikte.policy``) to people's runtimes.

Admission runs at every connect; the reaper checks every runtime every ``reaper_seconds`` and
warns its viewers before it stops one for a time limit, then stops it with the reason.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from dikte.db.usage import runtime_intervals
from dikte.policy import (
    AdmissionSnapshot,
    RuntimeInterval,
    RuntimeSnapshot,
    Tier,
    decide_admission,
    decide_lifecycle,
    next_reset,
    usage_today,
)
from dikte.runtimes.notices import write_notice

if TYPE_CHECKING:
    from dikte.config import Settings
    from dikte.db import Database
    from dikte.sessions.manager import SessionManager
    from dikte.sessions.notebook import OpenNotebook

log = logging.getLogger(__name__)

SHAPE = "standard"


def tier_for(settings: Settings, db: Database, person_id: int) -> tuple[str, Tier]:
    """A person's tier (name and limits); the default tier when none or an unknown one is set."""
    person = db.person(person_id)
    name = getattr(person, "tier", None) or settings.default_tier
    if name not in settings.tiers:
        log.warning("person %s has unknown tier %r; using %r", person_id, name,
                    settings.default_tier)
        name = settings.default_tier
    return name, settings.tiers[name]


class Enforcer:
    def __init__(self, manager: SessionManager) -> None:
        self.manager = manager
        self.settings = manager.settings
        self._connects: dict[int, list[float]] = {}
        self._task: asyncio.Task[None] | None = None

    def tier_of(self, person_id: int) -> tuple[str, Tier]:
        return tier_for(self.settings, self.manager.db, person_id)

    def runtime_limits(self, person_id: int, shape_name: str = SHAPE) -> tuple[int, int]:
        """RAM and disk of a new runtime: the tier's for its shape, capped by the host settings."""
        _, tier = self.tier_of(person_id)
        shape = tier.shapes.get(shape_name)
        memory, disk = self.settings.runtime_memory, self.settings.runtime_disk
        if shape is not None and shape.memory:
            memory = min(memory, shape.memory)
        if shape is not None and shape.disk:
            disk = min(disk, shape.disk)
        return memory, disk

    def admit(self, nb: OpenNotebook, shape: str = SHAPE, background: bool = False) -> None:
        """Raise the refusal (a sentence naming the limit) when this connect is not allowed."""
        now = time.time()
        name, tier = self.tier_of(nb.person_id)
        window = self._connects.setdefault(nb.person_id, [])
        window[:] = [t for t in window if t > now - tier.connect_window_s]
        held: dict[str, int] = {}
        held_background = 0
        for other in self.manager.notebooks.values():
            link = other.runtime
            if other.person_id == nb.person_id and link is not None and other is not nb:
                held[link.shape] = held.get(link.shape, 0) + 1
                held_background += link.background
        decision = decide_admission(AdmissionSnapshot(
            tier=tier, tier_name=name, shape=shape, background=background, sessions=held,
            background_sessions=held_background, accelerator_seconds_today=0.0,
            recent_connects=list(window), now=now, reset=self.settings.usage_reset,
            all_tiers=self.settings.tiers, drive_bytes=nb.drive.usage_bytes()))
        if not decision.allowed:
            raise decision.to_error()
        window.append(now)

    def usage(self, person_id: int) -> dict[str, Any]:
        """What "My usage" shows: the tier, today's use and when it resets."""
        now = time.time()
        name, tier = self.tier_of(person_id)
        reset = self.settings.usage_reset
        intervals = [RuntimeInterval(rid, SHAPE, False, start, stop)
                     for rid, start, stop in runtime_intervals(self.manager.db, person_id,
                                                               now - 2 * 86400)]
        today = usage_today(intervals, now, reset)
        used_accel = sum(today.accelerator_s.values()) / 3600
        return {
            "tier": name, "limits": tier.model_dump(mode="json"),
            "runtime_seconds_today": dict(today.runtime_s),
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
        for nb in list(self.manager.notebooks.values()):
            link = nb.runtime
            if link is None or link.status != "connected":
                continue
            _, tier = self.tier_of(nb.person_id)
            decision = decide_lifecycle(RuntimeSnapshot(
                tier=tier, started_at=link.started_at, last_activity=nb.last_activity,
                busy=nb.running is not None, viewers=len(nb.audience),
                last_viewer_left_at=nb.last_viewer_left_at, background=link.background,
                shape=link.shape,
                accelerator_seconds_today=0.0, drive_bytes=0, now=now,
                reset=self.settings.usage_reset, warned_at=link.warned_at))
            if decision.kind == "warn":
                link.warned_at[decision.code] = now
                notice = {"code": decision.code, "message": decision.message, "at": decision.at}
                nb.broadcast({"type": "notice", "level": "warning", **notice})
                if link.handle is not None:  # the kernel's preemption notice (checkpoint now)
                    try:
                        write_notice(link.handle, notice)
                    except OSError:
                        log.warning("no preemption notice for %s", link.runtime_id,
                                    exc_info=True)
            elif decision.kind == "stop":
                log.info("stopping runtime %s: %s", link.runtime_id, decision.message)
                await self.manager.disconnect(nb, decision.message)
