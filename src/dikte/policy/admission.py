"""Admission: may this person connect a new runtime of this shape now?

Rules, in order of precedence (the first that applies answers; a refusal that no waiting can fix
comes first, then the one that lasts longest, so the sentence tells the person what really stands
in the way):

1. ``shape_unavailable`` - the tier does not offer the shape; the message names a tier that does.
2. ``background_unavailable`` - background execution was asked for and the tier has none.
3. ``drive_full`` - the drive is at or over its quota; a new runtime could not save anything.
4. ``accelerator_quota`` - an accelerator shape and today's accelerator hours are used up;
   ``retry_after_s`` runs to the next reset (computed from ``now`` in the reset's time zone).
5. ``connect_rate`` - more than ``tier.connect_limit`` connects within ``tier.connect_window_s``
   (abuse control); ``retry_after_s`` is when the oldest counted connect leaves the window.
6. ``session_limit`` - the person holds the tier's maximum of sessions of this shape.
7. ``background_limit`` - background asked and the tier's background sessions are all in use.

A background session also counts as a session of its shape.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dikte.policy.decisions import Decision
from dikte.policy.ledger import next_reset
from dikte.policy.tiers import Tier, UsageReset, is_accelerator_shape, shape_label
from dikte.policy.units import format_duration, format_hours, format_size


@dataclass(frozen=True, slots=True)
class AdmissionSnapshot:
    """Everything admission looks at, taken at ``now``."""

    tier: Tier
    """The person's tier."""
    tier_name: str
    """The tier's name as people see it (in sentences)."""
    shape: str
    """The shape asked for: ``"standard"``, ``"high_ram"`` or an accelerator type."""
    background: bool
    """Whether the runtime is to run with background execution."""
    sessions: Mapping[str, int]
    """The person's current sessions per shape (background ones included)."""
    background_sessions: int
    """The person's current sessions that run with background execution."""
    accelerator_seconds_today: float
    """Accelerator seconds used in the current reset window (see ``ledger.usage_today``)."""
    recent_connects: Sequence[float]
    """Times of the person's recent admitted connects (older than the window are ignored)."""
    now: float
    """The time of the request, in seconds since the epoch."""
    reset: UsageReset = field(default_factory=UsageReset)
    """When daily usage resets."""
    all_tiers: Mapping[str, Tier] = field(default_factory=dict)
    """Every configured tier, in the admin's order, to name one that offers a missing shape."""
    drive_bytes: int = 0
    """Bytes the person's drive holds now."""


def session_limit_message(used: int, limit: int, label: str) -> str:
    return f"You have {used} of {limit} {label} sessions. Terminate one in Manage sessions, or wait."


def accelerator_quota_message(used_s: float, tier: Tier, reset: UsageReset) -> str:
    return (f"GPU quota for today used: {format_hours(used_s)} of "
            f"{format_hours(tier.daily_accelerator_s)} hours. Resets at {reset.label}.")


def drive_full_message(used: int, quota: int) -> str:
    return (f"Drive full: {format_size(used)} of {format_size(quota)} used. "
            "Delete files from your drive to save again.")


def _shape_unavailable(s: AdmissionSnapshot) -> Decision:
    label = shape_label(s.shape)
    other = next((n for n, t in s.all_tiers.items() if n != s.tier_name and t.offers(s.shape)), None)
    also = f" The {other} tier has them." if other else " No tier offers them."
    return Decision("deny", "shape_unavailable",
                    f"The {s.tier_name} tier has no {label} runtimes.{also}")


def _background_unavailable(s: AdmissionSnapshot) -> Decision:
    other = next((n for n, t in s.all_tiers.items() if n != s.tier_name and t.offers_background), None)
    also = f" The {other} tier has it." if other else " No tier offers it."
    return Decision("deny", "background_unavailable",
                    f"The {s.tier_name} tier has no background execution.{also}")


def _connect_rate(s: AdmissionSnapshot) -> Decision | None:
    tier = s.tier
    recent = sorted(t for t in s.recent_connects if s.now - tier.connect_window_s < t <= s.now)
    if len(recent) < tier.connect_limit:
        return None
    # the connect that must leave the window so that one more fits
    frees_at = recent[len(recent) - tier.connect_limit] + tier.connect_window_s
    retry = max(1, math.ceil(frees_at - s.now))
    return Decision(
        "deny", "connect_rate",
        f"Too many connects: {len(recent)} in the last {format_duration(tier.connect_window_s)} "
        f"(limit {tier.connect_limit}). Try again in {format_duration(retry)}.",
        retry_after_s=retry)


def decide_admission(s: AdmissionSnapshot) -> Decision:
    """Allow or deny a new runtime; see the module docstring for the rules and their order."""
    tier = s.tier
    if not tier.offers(s.shape):
        return _shape_unavailable(s)
    if s.background and not tier.offers_background:
        return _background_unavailable(s)
    if s.drive_bytes >= tier.drive_quota:
        return Decision("deny", "drive_full", drive_full_message(s.drive_bytes, tier.drive_quota))
    if is_accelerator_shape(s.shape) and s.accelerator_seconds_today >= tier.daily_accelerator_s:
        retry = max(1, math.ceil(next_reset(s.now, s.reset) - s.now))
        return Decision("deny", "accelerator_quota",
                        accelerator_quota_message(s.accelerator_seconds_today, tier, s.reset),
                        retry_after_s=retry)
    rate = _connect_rate(s)
    if rate is not None:
        return rate
    used = s.sessions.get(s.shape, 0)
    limit = tier.shapes[s.shape].max_sessions
    if used >= limit:
        return Decision("deny", "session_limit", session_limit_message(used, limit, shape_label(s.shape)))
    if s.background and s.background_sessions >= tier.background_sessions:
        return Decision("deny", "background_limit",
                        session_limit_message(s.background_sessions, tier.background_sessions, "background"))
    return Decision.allow()
