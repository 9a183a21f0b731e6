"""The usage ledger's arithmetic: runtime and accelerator seconds per day from start/stop events.

Usage is computed from the times runtimes started and stopped (the database keeps those events, so
the figures survive restarts), never by sampling. A "day" is a reset window: from one daily reset
(:class:`~dikte.policy.tiers.UsageReset`, a wall-clock time in a time zone) to the next, so it lasts
23 or 25 hours across a daylight-saving change. An interval that crosses a reset is split and each
part counts in its own day. Pure: every function takes ``now``; none reads a clock.

A reset time that does not exist on a given day (skipped by a spring-forward change) falls at the
same offset as before the change (02:30 in Europe/Berlin becomes 03:30 CEST); one that happens twice
(fall back) is the first of the two.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as wall_clock
from typing import NamedTuple

from dikte.policy.tiers import UsageReset


class RuntimeInterval(NamedTuple):
    """One runtime's run, from its start and stop events; ``stop`` is None while it runs."""

    runtime_id: str
    shape: str
    accelerator: bool
    start: float
    stop: float | None


@dataclass(frozen=True, slots=True)
class DayUsage:
    """One person's usage in one reset window (``day`` is the local date the window starts on)."""

    day: date
    start: float
    end: float
    runtime_s: dict[str, float] = field(default_factory=dict)
    accelerator_s: dict[str, float] = field(default_factory=dict)

    @property
    def accelerator_total_s(self) -> float:
        """Accelerator seconds over all shapes: what counts against daily accelerator hours."""
        return sum(self.accelerator_s.values())


def _reset_on(day: date, reset: UsageReset) -> float:
    return datetime.combine(day, wall_clock(reset.hour, reset.minute), tzinfo=reset.zone).timestamp()


def reset_window(t: float, reset: UsageReset) -> tuple[date, float, float]:
    """The reset window holding ``t``: (its day, start <= t, end > t)."""
    day = datetime.fromtimestamp(t, reset.zone).date()
    start = _reset_on(day, reset)
    if start > t:
        day -= timedelta(days=1)
        start = _reset_on(day, reset)
    end = _reset_on(day + timedelta(days=1), reset)
    while end <= t:  # only when a skipped reset time folds forward past t
        day += timedelta(days=1)
        start, end = end, _reset_on(day + timedelta(days=1), reset)
    return day, start, end


def next_reset(now: float, reset: UsageReset) -> float:
    """The first reset strictly after ``now``."""
    return reset_window(now, reset)[2]


def split_by_day(start: float, stop: float, reset: UsageReset) -> list[tuple[date, float, float]]:
    """``[start, stop)`` cut at every reset: (day, part start, part stop) for each day it touches."""
    parts: list[tuple[date, float, float]] = []
    t = start
    while t < stop:
        day, _, end = reset_window(t, reset)
        parts.append((day, t, min(stop, end)))
        t = end
    return parts


def _clipped(iv: RuntimeInterval, now: float) -> tuple[float, float]:
    if iv.stop is not None and iv.stop < iv.start:
        raise ValueError(f"runtime {iv.runtime_id} stops ({iv.stop}) before it starts ({iv.start})")
    stop = now if iv.stop is None else min(iv.stop, now)
    return iv.start, max(iv.start, stop)


def daily_usage(intervals: Iterable[RuntimeInterval], now: float,
                reset: UsageReset) -> dict[date, DayUsage]:
    """Per day, per shape: runtime seconds and accelerator seconds, up to ``now``.

    A running runtime (``stop`` None) counts until ``now``; nothing counts after ``now``.
    """
    days: dict[date, DayUsage] = {}
    for iv in intervals:
        start, stop = _clipped(iv, now)
        for day, a, b in split_by_day(start, stop, reset):
            if day not in days:
                _, ws, we = reset_window(a, reset)
                days[day] = DayUsage(day, ws, we)
            u = days[day]
            u.runtime_s[iv.shape] = u.runtime_s.get(iv.shape, 0.0) + (b - a)
            if iv.accelerator:
                u.accelerator_s[iv.shape] = u.accelerator_s.get(iv.shape, 0.0) + (b - a)
    return dict(sorted(days.items()))


def usage_today(intervals: Iterable[RuntimeInterval], now: float, reset: UsageReset) -> DayUsage:
    """Usage in the current reset window (the one holding ``now``), zero if nothing ran."""
    day, start, end = reset_window(now, reset)
    overlapping = []
    for iv in intervals:
        a, b = _clipped(iv, now)
        if b > start:
            overlapping.append(iv._replace(start=max(a, start), stop=b))
    return daily_usage(overlapping, now, reset).get(day, DayUsage(day, start, end))
