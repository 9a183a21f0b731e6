"""Usage from start/stop events: reset windows, time zones, intervals split at a reset."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from dikte.policy import RuntimeInterval, UsageReset, daily_usage, next_reset, reset_window, usage_today

BERLIN = UsageReset(timezone="Europe/Berlin")
H = 3600.0


def ts(iso: str) -> float:
    return datetime.fromisoformat(iso).astimezone(UTC).timestamp()


@pytest.mark.parametrize(("now", "reset", "expected"), [
    ("2024-06-01T12:00:00+00:00", UsageReset(), "2024-06-02T00:00:00+00:00"),
    ("2024-06-01T00:00:00+00:00", UsageReset(), "2024-06-02T00:00:00+00:00"),  # at a reset: the next
    ("2024-06-01T23:59:59+00:00", UsageReset(), "2024-06-02T00:00:00+00:00"),
    ("2024-06-01T05:00:00+00:00", UsageReset(time="06:30"), "2024-06-01T06:30:00+00:00"),
    ("2024-06-01T12:00:00+00:00", UsageReset(time="06:30"), "2024-06-02T06:30:00+00:00"),
    ("2024-06-01T21:59:59+00:00", BERLIN, "2024-06-01T22:00:00+00:00"),  # CEST, UTC+2
    ("2024-01-15T23:30:00+00:00", BERLIN, "2024-01-16T23:00:00+00:00"),  # CET: 00:30 local
    ("2024-03-30T12:00:00+01:00", BERLIN, "2024-03-31T00:00:00+01:00"),  # before spring-forward
    ("2024-03-31T12:00:00+02:00", BERLIN, "2024-04-01T00:00:00+02:00"),  # after it
    ("2024-10-27T12:00:00+01:00", BERLIN, "2024-10-28T00:00:00+01:00"),  # after fall-back
    # 02:30 does not exist in Berlin on 2024-03-31: it falls at 03:30 CEST
    ("2024-03-31T00:00:00+01:00", UsageReset(time="02:30", timezone="Europe/Berlin"),
     "2024-03-31T03:30:00+02:00"),
    # 02:30 happens twice on 2024-10-27: the first one counts
    ("2024-10-27T00:00:00+02:00", UsageReset(time="02:30", timezone="Europe/Berlin"),
     "2024-10-27T02:30:00+02:00"),
    ("2024-06-01T12:00:00+00:00", UsageReset(timezone="America/New_York"), "2024-06-02T00:00:00-04:00"),
])
def test_next_reset(now: str, reset: UsageReset, expected: str) -> None:
    assert next_reset(ts(now), reset) == ts(expected)


@pytest.mark.parametrize(("t", "reset", "day", "hours"), [
    ("2024-06-01T12:00:00+00:00", UsageReset(), date(2024, 6, 1), 24),
    ("2024-03-31T12:00:00+02:00", BERLIN, date(2024, 3, 31), 23),
    ("2024-10-27T12:00:00+01:00", BERLIN, date(2024, 10, 27), 25),
    ("2024-06-01T05:00:00+00:00", UsageReset(time="06:00"), date(2024, 5, 31), 24),  # before 06:00
])
def test_reset_window(t: str, reset: UsageReset, day: date, hours: int) -> None:
    d, start, end = reset_window(ts(t), reset)
    assert d == day
    assert start <= ts(t) < end
    assert end - start == hours * H


NOW = ts("2024-06-02T10:00:00+00:00")
MIDNIGHT = ts("2024-06-02T00:00:00+00:00")


def iv(start: float, stop: float | None, shape: str = "standard", acc: bool = False) -> RuntimeInterval:
    return RuntimeInterval("r", shape, acc, start, stop)


@pytest.mark.parametrize(("intervals", "runtime_s", "accelerator_s"), [
    ([], {}, {}),
    ([iv(MIDNIGHT + H, MIDNIGHT + 3 * H)], {"standard": 2 * H}, {}),
    # crosses midnight: only the part after it counts today
    ([iv(MIDNIGHT - 2 * H, MIDNIGHT + H, "T4", True)], {"T4": H}, {"T4": H}),
    # ended exactly at the reset: nothing today
    ([iv(MIDNIGHT - H, MIDNIGHT, "T4", True)], {}, {}),
    # still running: counts until now
    ([iv(NOW - 1800, None, "T4", True)], {"T4": 1800}, {"T4": 1800}),
    # a stop after now (clock skew) is cut at now; a start after now counts nothing
    ([iv(NOW - 60, NOW + 60), iv(NOW + 10, None)], {"standard": 60}, {}),
    # shapes kept apart; CPU shapes use no accelerator time
    ([iv(MIDNIGHT, MIDNIGHT + H), iv(MIDNIGHT, MIDNIGHT + 2 * H, "high_ram"),
      iv(MIDNIGHT + H, MIDNIGHT + 1.5 * H, "T4", True), iv(MIDNIGHT + 2 * H, None, "T4", True)],
     {"standard": H, "high_ram": 2 * H, "T4": 8.5 * H}, {"T4": 8.5 * H}),
])
def test_usage_today(intervals: list[RuntimeInterval], runtime_s: dict[str, float],
                     accelerator_s: dict[str, float]) -> None:
    u = usage_today(intervals, NOW, UsageReset())
    assert (u.day, u.start, u.end) == (date(2024, 6, 2), MIDNIGHT, MIDNIGHT + 24 * H)
    assert (u.runtime_s, u.accelerator_s) == (runtime_s, accelerator_s)
    assert u.accelerator_total_s == sum(accelerator_s.values())


def test_an_interval_over_three_berlin_days_is_split_at_each_midnight() -> None:
    start, stop = ts("2024-03-30T22:00:00+01:00"), ts("2024-04-01T01:00:00+02:00")
    days = daily_usage([iv(start, stop, "T4", True)], stop + H, BERLIN)
    assert {d: u.accelerator_s["T4"] / H for d, u in days.items()} == {
        date(2024, 3, 30): 2, date(2024, 3, 31): 23, date(2024, 4, 1): 1}
    assert sum(u.runtime_s["T4"] for u in days.values()) == stop - start


def test_a_stop_before_its_start_is_refused() -> None:
    with pytest.raises(ValueError, match="runtime r stops"):
        usage_today([iv(NOW, NOW - 1)], NOW, UsageReset())
