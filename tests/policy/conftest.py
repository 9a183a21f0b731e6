"""Fixtures for the pure policy tests: small tiers (seconds and megabytes) so every rule is quick.

- ``small``: a tier named ``small``: 1 standard and 1 T4 session, no high-RAM, no background; idle
  timeout 10 s, lifetime 100 s, disconnect grace 5 s, 30 min (0.5 h) of accelerator a day, a 10 MB
  drive, warnings 3 s before a stop, at most 3 connects in 10 s.
- ``big``: a tier named ``big``: 2 standard, 1 high-RAM, 2 T4 sessions, 1 background session.
- ``tiers``: ``{"small": small, "big": big}``, in that order.
- ``admission``: ``admission(**changes)`` builds an ``AdmissionSnapshot`` (small tier, standard
  shape, nothing in use, ``now`` = ``T0``) with the changes applied.
- ``runtime``: ``runtime(**changes)`` builds a ``RuntimeSnapshot`` (small tier, standard shape,
  started and last active at ``T0``, one viewer, idle, nothing used) with the changes applied.
  ``tier="big"`` style names are looked up in ``tiers``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dikte.policy import AdmissionSnapshot, RuntimeSnapshot, ShapeLimits, Tier

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC

_SHAPE = {"memory": "64MiB", "disk": "128MiB"}


@pytest.fixture
def small() -> Tier:
    return Tier(
        name="small",
        shapes={"standard": ShapeLimits(max_sessions=1, **_SHAPE),
                "high_ram": ShapeLimits(max_sessions=0, available=False),
                "T4": ShapeLimits(max_sessions=1, **_SHAPE)},
        idle_timeout_s=10, max_lifetime_s=100, disconnect_grace_s=5, daily_accelerator_hours=0.5,
        drive_quota="10MB", warn_before_stop_s=3, connect_limit=3, connect_window_s=10)


@pytest.fixture
def big(small: Tier) -> Tier:
    return small.model_copy(update={
        "name": "big", "background_execution": True, "background_sessions": 1,
        "shapes": {"standard": ShapeLimits(max_sessions=2, **_SHAPE),
                   "high_ram": ShapeLimits(max_sessions=1, **_SHAPE),
                   "T4": ShapeLimits(max_sessions=2, **_SHAPE)}})


@pytest.fixture
def tiers(small: Tier, big: Tier) -> dict[str, Tier]:
    return {"small": small, "big": big}


def _tier(changes: dict[str, Any], tiers: dict[str, Tier]) -> dict[str, Any]:
    if isinstance(changes.get("tier"), str):
        changes["tier"] = tiers[changes["tier"]]
    return changes


@pytest.fixture
def admission(tiers: dict[str, Tier]) -> Callable[..., AdmissionSnapshot]:
    def build(**changes: Any) -> AdmissionSnapshot:
        changes = _tier(changes, tiers)
        tier = changes.setdefault("tier", tiers["small"])
        base: dict[str, Any] = {
            "tier_name": tier.name, "shape": "standard", "background": False, "sessions": {},
            "background_sessions": 0, "accelerator_seconds_today": 0.0, "recent_connects": [],
            "now": T0, "all_tiers": tiers}
        return AdmissionSnapshot(**(base | changes))
    return build


@pytest.fixture
def runtime(tiers: dict[str, Tier]) -> Callable[..., RuntimeSnapshot]:
    def build(**changes: Any) -> RuntimeSnapshot:
        changes = _tier(changes, tiers)
        base: dict[str, Any] = {
            "tier": tiers["small"], "started_at": T0, "last_activity": T0, "busy": False,
            "viewers": 1, "last_viewer_left_at": None, "background": False,
            "accelerator_seconds_today": 0.0, "drive_bytes": 0, "now": T0}
        return RuntimeSnapshot(**(base | changes))
    return build
