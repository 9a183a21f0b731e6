"""Admission rules, one table row per rule and boundary."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from dikte.errors import Forbidden, InsufficientStorage, QuotaExceeded
from dikte.policy import AdmissionSnapshot, UsageReset, decide_admission, default_tiers
from tests.policy.conftest import T0

Build = Callable[..., AdmissionSnapshot]
MB = 10**6

ALLOW: list[tuple[str, dict[str, Any]]] = [
    ("nothing in use", {}),
    ("one below the session limit", {"tier": "big", "sessions": {"standard": 1}}),
    ("other shapes do not count", {"sessions": {"T4": 1}}),
    ("background, one below", {"tier": "big", "background": True}),
    ("GPU one second below the quota", {"shape": "T4", "accelerator_seconds_today": 1799.0}),
    ("GPU quota spent, CPU shape", {"accelerator_seconds_today": 1800.0}),
    ("connects one below the limit", {"recent_connects": [T0 - 1, T0 - 2]}),
    ("connects outside the window", {"recent_connects": [T0 - 10, T0 - 11, T0 - 50]}),
    ("drive one byte below the quota", {"drive_bytes": 10 * MB - 1}),
]


@pytest.mark.parametrize(("changes"), [c for _, c in ALLOW], ids=[i for i, _ in ALLOW])
def test_allowed(admission: Build, changes: dict[str, Any]) -> None:
    d = decide_admission(admission(**changes))
    assert (d.kind, d.code, d.message, d.retry_after_s) == ("allow", "ok", "", None)


DENY: list[tuple[str, dict[str, Any], str, str | None, int | None]] = [
    ("session limit reached", {"sessions": {"standard": 1}}, "session_limit",
     "You have 1 of 1 standard sessions. Terminate one in Manage sessions, or wait.", None),
    ("session limit exceeded", {"tier": "big", "sessions": {"standard": 3}}, "session_limit",
     "You have 3 of 2 standard sessions. Terminate one in Manage sessions, or wait.", None),
    ("high-RAM session limit", {"tier": "big", "shape": "high_ram", "sessions": {"high_ram": 1}},
     "session_limit", "You have 1 of 1 high-RAM sessions. Terminate one in Manage sessions, or wait.",
     None),
    ("shape the tier lacks", {"shape": "high_ram"}, "shape_unavailable",
     "The small tier has no high-RAM runtimes. The big tier has them.", None),
    ("shape no tier offers", {"shape": "A100"}, "shape_unavailable",
     "The small tier has no A100 runtimes. No tier offers them.", None),
    ("background the tier lacks", {"background": True}, "background_unavailable",
     "The small tier has no background execution. The big tier has it.", None),
    ("background sessions at the max", {"tier": "big", "background": True, "background_sessions": 1},
     "background_limit",
     "You have 1 of 1 background sessions. Terminate one in Manage sessions, or wait.", None),
    ("GPU quota exactly used", {"shape": "T4", "accelerator_seconds_today": 1800.0}, "accelerator_quota",
     "GPU quota for today used: 0.5 of 0.5 hours. Resets at 00:00 UTC.", 6400),
    ("connects at the limit", {"recent_connects": [T0 - 9, T0 - 1, T0]}, "connect_rate",
     "Too many connects: 3 in the last 10 s (limit 3). Try again in 1 s.", 1),
    ("connects over the limit, oldest frees first",
     {"recent_connects": [T0 - 2, T0 - 7, T0 - 4, T0 - 5]}, "connect_rate",
     "Too many connects: 4 in the last 10 s (limit 3). Try again in 5 s.", 5),
    ("drive exactly full", {"drive_bytes": 10 * MB}, "drive_full",
     "Drive full: 9.5 MiB of 9.5 MiB used. Delete files from your drive to save again.", None),
    # precedence: what no waiting fixes first, then what lasts longest
    ("shape before drive", {"shape": "high_ram", "drive_bytes": 10 * MB}, "shape_unavailable", None, None),
    ("background lack before sessions", {"background": True, "sessions": {"standard": 1}},
     "background_unavailable", None, None),
    ("drive before GPU quota", {"shape": "T4", "drive_bytes": 10 * MB, "accelerator_seconds_today": 1800},
     "drive_full", None, None),
    ("GPU quota before connect rate", {"shape": "T4", "accelerator_seconds_today": 1800,
                                       "recent_connects": [T0] * 3}, "accelerator_quota", None, 6400),
    ("connect rate before sessions", {"sessions": {"standard": 1}, "recent_connects": [T0] * 3},
     "connect_rate", None, 10),
    ("sessions before background sessions",
     {"tier": "big", "background": True, "background_sessions": 1, "sessions": {"standard": 2}},
     "session_limit", None, None),
]


@pytest.mark.parametrize(("changes", "code", "message", "retry"), [c[1:] for c in DENY],
                         ids=[c[0] for c in DENY])
def test_denied(admission: Build, changes: dict[str, Any], code: str, message: str | None,
                retry: int | None) -> None:
    d = decide_admission(admission(**changes))
    assert (d.kind, d.code, d.retry_after_s) == ("deny", code, retry)
    if message is not None:
        assert d.message == message


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso).astimezone(UTC).timestamp()


@pytest.mark.parametrize(("now", "reset", "retry", "label"), [
    ("2024-06-01T23:00:00+00:00", UsageReset(), 3600, "00:00 UTC"),
    ("2024-06-02T00:00:00+00:00", UsageReset(), 86400, "00:00 UTC"),  # exactly at the reset
    ("2024-06-01T05:59:59+00:00", UsageReset(time="06:00"), 1, "06:00 UTC"),
    # Berlin's spring-forward day has 23 hours: from 00:30 CET to the next midnight is 22.5 h
    ("2024-03-31T00:30:00+01:00", UsageReset(timezone="Europe/Berlin"), 81000, "00:00 Europe/Berlin"),
    # ... and its fall-back day 25 hours
    ("2024-10-27T00:30:00+02:00", UsageReset(timezone="Europe/Berlin"), 88200, "00:00 Europe/Berlin"),
])
def test_gpu_quota_resets_in_the_configured_zone(now: str, reset: UsageReset, retry: int,
                                                  label: str) -> None:
    free = default_tiers()["free"]
    s = AdmissionSnapshot(tier=free, tier_name="free", shape="T4", background=False, sessions={},
                          background_sessions=0, accelerator_seconds_today=4 * 3600.0,
                          recent_connects=[], now=_ts(now), reset=reset, all_tiers=default_tiers())
    d = decide_admission(s)
    assert (d.kind, d.code, d.retry_after_s) == ("deny", "accelerator_quota", retry)
    assert d.message == f"GPU quota for today used: 4.0 of 4.0 hours. Resets at {label}."


def test_default_tiers_name_the_cheapest_tier_with_the_shape() -> None:
    tiers = default_tiers()
    s = AdmissionSnapshot(tier=tiers["free"], tier_name="free", shape="high_ram", background=True,
                          sessions={}, background_sessions=0, accelerator_seconds_today=0,
                          recent_connects=[], now=T0, all_tiers=tiers)
    assert decide_admission(s).message == "The free tier has no high-RAM runtimes. The pro tier has them."
    s2 = replace(s, shape="standard")
    assert decide_admission(s2).message == (
        "The free tier has no background execution. The pro_plus tier has it.")


@pytest.mark.parametrize(("changes", "error", "status"), [
    ({"shape": "high_ram"}, Forbidden, 403),
    ({"drive_bytes": 10 * MB}, InsufficientStorage, 507),
    ({"sessions": {"standard": 1}}, QuotaExceeded, 429),
    ({"recent_connects": [T0] * 3}, QuotaExceeded, 429),
])
def test_denials_become_domain_errors(admission: Build, changes: dict[str, Any], error: type,
                                      status: int) -> None:
    d = decide_admission(admission(**changes))
    e = d.to_error()
    assert isinstance(e, error)
    assert (e.status, e.code, e.message, e.retry_after) == (status, d.code, d.message, d.retry_after_s)


def test_only_a_denial_becomes_an_error(admission: Build) -> None:
    with pytest.raises(ValueError, match="only a deny"):
        decide_admission(admission()).to_error()
