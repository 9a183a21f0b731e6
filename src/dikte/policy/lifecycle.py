"""Lifecycle: what the reaper does with a running runtime now.

Time rules (each has one code, used for its warning and for its stop):

- ``idle_timeout`` - no cell executing and no interaction for ``idle_timeout_s``; a busy kernel is
  never idle, and an open tab alone is not activity (``last_activity`` moves only when a cell runs
  or the person interacts, e.g. answers "Are you still there?").
- ``max_lifetime`` - ``max_lifetime_s`` after ``started_at``, busy or not.
- ``disconnect_grace`` - no viewer for ``disconnect_grace_s`` while background execution is off
  (for this runtime or for the tier); counted from ``last_viewer_left_at``, or from ``started_at``
  if no one ever viewed it.
- ``accelerator_quota`` - an accelerator runtime when today's accelerator hours run out (estimated
  from the remaining seconds and how many accelerator runtimes the person runs); not applied when
  the daily reset comes first. The stop carries ``retry_after_s`` to the next reset.
- ``drive_quota`` - the drive holds more than ``drive_quota`` bytes: code in the runtime wrote
  past the quota (writes through Dikte are refused before that). Due at once, so the runtime is
  warned and stopped ``warn_before_stop_s`` later unless the drive is back under its quota.

Warning before a stop: when a rule's stop is within ``tier.warn_before_stop_s`` a ``warn`` comes
first, with the countdown in the message and ``at`` = the stop time. It is returned once: the
caller records ``warned_at[code] = now`` when it delivers it (banner, preemption notice). A warning
counts for a stop if given no earlier than ``warn_before_stop_s`` before it; a stop never comes
sooner than ``warn_before_stop_s`` after its warning, so a late warning (a reaper that was down)
moves the stop later rather than cutting the countdown short. ``warn_before_stop_s = 0``: no
warnings, stops at the rule's time.

Precedence: a ``stop`` beats a ``warn``, which beats ``drive_full``; among stops (or warnings) the
earliest time wins, and on a tie: maximum lifetime, accelerator quota, drive quota, idle
timeout, disconnect grace. ``drive_full`` (a ``deny``: refuse writes and new runtimes, never a
stop) applies while the drive holds ``drive_quota`` bytes or more.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from dikte.policy.admission import accelerator_quota_message, drive_full_message
from dikte.policy.decisions import Decision
from dikte.policy.ledger import next_reset
from dikte.policy.tiers import Tier, UsageReset, is_accelerator_shape
from dikte.policy.units import format_duration, format_hours, format_size

PRECEDENCE = ("max_lifetime", "accelerator_quota", "drive_quota", "idle_timeout",
              "disconnect_grace")
"""Tie order of the time rules, first wins."""

EPISODE_SLACK_S = 30
"""A drive_quota warning older than its countdown plus this belongs to an earlier time over the
quota (the person deleted files since): a new time over the quota is warned afresh."""


@dataclass(frozen=True, slots=True)
class RuntimeSnapshot:
    """One running runtime as the reaper sees it at ``now``."""

    tier: Tier
    started_at: float
    last_activity: float
    """The later of the last interaction and the end of the last cell run."""
    busy: bool
    """A cell is executing."""
    viewers: int
    last_viewer_left_at: float | None
    background: bool
    """This runtime was admitted with background execution."""
    accelerator_seconds_today: float
    """The person's accelerator seconds in the current reset window, this runtime's included."""
    drive_bytes: int
    now: float
    reset: UsageReset = field(default_factory=UsageReset)
    warned_at: Mapping[str, float] = field(default_factory=dict)
    """Warnings already delivered: rule code -> when."""
    shape: str = "standard"
    """The runtime's shape; accelerator shapes are subject to the daily accelerator hours."""
    accelerator_runtimes: int = 1
    """How many accelerator runtimes of the person run now (this one included)."""


@dataclass(frozen=True, slots=True)
class _Due:
    code: str
    stop_at: float
    reason: str
    warning: str  # follows "This runtime will disconnect in <countdown>"
    retry_after_s: int | None = None


def _rules(s: RuntimeSnapshot) -> list[_Due]:
    t = s.tier
    life = format_duration(t.max_lifetime_s)
    rules = [_Due("max_lifetime", s.started_at + t.max_lifetime_s,
                  f"Runtime disconnected: maximum lifetime of {life} reached.",
                  f": maximum lifetime of {life}. Save your work now.")]
    if is_accelerator_shape(s.shape):
        remaining = t.daily_accelerator_s - s.accelerator_seconds_today
        stop_at = s.now + remaining / max(1, s.accelerator_runtimes)
        reset_at = next_reset(s.now, s.reset)
        if remaining <= 0 or stop_at < reset_at:
            used = max(s.accelerator_seconds_today, t.daily_accelerator_s)
            rules.append(_Due(
                "accelerator_quota", stop_at,
                "Runtime disconnected: " + accelerator_quota_message(used, t, s.reset),
                f": GPU quota for today ({format_hours(t.daily_accelerator_s)} hours) runs out. "
                f"Resets at {s.reset.label}.",
                retry_after_s=max(1, math.ceil(reset_at - s.now))))
    if s.drive_bytes > t.drive_quota:
        # code in the runtime wrote past the quota (writes through Dikte are refused before)
        held, quota = format_size(s.drive_bytes), format_size(t.drive_quota)
        # due from the warning of this episode (so the countdown ends), else from now
        warned = s.warned_at.get("drive_quota")
        current = warned is not None and s.now - warned <= t.warn_before_stop_s + EPISODE_SLACK_S
        rules.append(_Due("drive_quota", warned if current and warned is not None else s.now,
                          f"Runtime disconnected: your drive holds {held}, over its quota of "
                          f"{quota}. Delete files from your drive, then connect again.",
                          f": your drive holds {held}, over its quota of {quota}. Delete files "
                          "from your drive to keep it."))
    if not s.busy:
        idle = format_duration(t.idle_timeout_s)
        rules.append(_Due("idle_timeout", s.last_activity + t.idle_timeout_s,
                          f"Runtime disconnected: idle timeout of {idle} reached.",
                          f" after {idle} without activity. Run a cell or click to keep it."))
    if s.viewers == 0 and not (s.background and t.offers_background):
        left = s.started_at if s.last_viewer_left_at is None else s.last_viewer_left_at
        grace = format_duration(t.disconnect_grace_s)
        rules.append(_Due("disconnect_grace", left + t.disconnect_grace_s,
                          f"Runtime disconnected: no viewer for {grace} and background execution "
                          "is off.",
                          ": no one has the notebook open and background execution is off. "
                          "Open the notebook to keep it."))
    return rules


def _judge(rule: _Due, s: RuntimeSnapshot) -> Decision | None:
    lead = s.tier.warn_before_stop_s
    warned = s.warned_at.get(rule.code)
    fresh = warned is not None and warned >= rule.stop_at - lead
    if lead == 0:
        due: float | None = rule.stop_at
    elif fresh and warned is not None:
        due = max(rule.stop_at, warned + lead)
    else:
        due = None  # must warn first
    if due is not None and s.now >= due:
        return Decision("stop", rule.code, rule.reason, rule.retry_after_s, at=due)
    if fresh or due is not None or s.now < rule.stop_at - lead:
        return None
    at = max(rule.stop_at, s.now + lead)
    prefix = "Are you still there? " if rule.code == "idle_timeout" else ""
    return Decision("warn", rule.code,
                    f"{prefix}This runtime will disconnect in {format_duration(at - s.now)}"
                    f"{rule.warning}", at=at)


def lifecycle_decisions(s: RuntimeSnapshot) -> list[Decision]:
    """Every decision that applies now, most pressing first (see the module docstring)."""
    found = [d for d in (_judge(r, s) for r in _rules(s)) if d is not None]
    rank = {"stop": 0, "warn": 1}
    found.sort(key=lambda d: (rank[d.kind], d.at, PRECEDENCE.index(d.code)))
    if s.drive_bytes >= s.tier.drive_quota:
        found.append(Decision("deny", "drive_full", drive_full_message(s.drive_bytes, s.tier.drive_quota)))
    return found


def decide_lifecycle(s: RuntimeSnapshot) -> Decision:
    """The most pressing decision now: a stop, else a new warning, else ``drive_full``, else allow."""
    found = lifecycle_decisions(s)
    return found[0] if found else Decision.allow()
