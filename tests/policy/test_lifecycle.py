"""Lifecycle rules: warning, then stop, for each time rule; the drive quota; precedence."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dikte.policy import RuntimeSnapshot, decide_lifecycle, default_tiers, lifecycle_decisions
from tests.policy.conftest import T0

Build = Callable[..., RuntimeSnapshot]
MB = 10**6
GPU = {"shape": "T4", "busy": True}  # busy: keeps the idle rule out of the GPU rows

# small tier: idle 10 s, lifetime 100 s, grace 5 s, 1800 s of GPU a day, warn 3 s before a stop
ROWS: list[tuple[str, dict[str, Any], str, str, float | None, str | None]] = [
    ("just started", {"now": T0 + 1}, "allow", "ok", None, ""),
    # idle timeout
    ("idle, before the warning", {"now": T0 + 6.9}, "allow", "ok", None, None),
    ("idle, warning window opens", {"now": T0 + 7}, "warn", "idle_timeout", T0 + 10,
     "Are you still there? This runtime will disconnect in 3 s after 10 s without activity. "
     "Run a cell or click to keep it."),
    ("idle, warned, waiting", {"now": T0 + 9, "warned_at": {"idle_timeout": T0 + 7}}, "allow", "ok",
     None, None),
    ("idle, warned, time is up", {"now": T0 + 10, "warned_at": {"idle_timeout": T0 + 7}}, "stop",
     "idle_timeout", T0 + 10, "Runtime disconnected: idle timeout of 10 s reached."),
    ("idle, never warned: warn first", {"now": T0 + 12}, "warn", "idle_timeout", T0 + 15, None),
    ("idle, warned late: full countdown", {"now": T0 + 14, "warned_at": {"idle_timeout": T0 + 12}},
     "allow", "ok", None, None),
    ("idle, warned late, countdown over", {"now": T0 + 15, "warned_at": {"idle_timeout": T0 + 12}},
     "stop", "idle_timeout", T0 + 15, None),
    ("idle, stale warning from an earlier idle spell",
     {"now": T0 + 27, "last_activity": T0 + 20, "warned_at": {"idle_timeout": T0 + 7}},
     "warn", "idle_timeout", T0 + 30, None),
    ("activity resets the clock", {"now": T0 + 10, "last_activity": T0 + 5}, "allow", "ok", None, None),
    ("busy kernel is never idle", {"now": T0 + 50, "busy": True}, "allow", "ok", None, None),
    ("busy kernel, old idle warning", {"now": T0 + 50, "busy": True, "warned_at": {"idle_timeout": T0 + 7}},
     "allow", "ok", None, None),
    ("an open tab is not activity", {"now": T0 + 10, "viewers": 3, "warned_at": {"idle_timeout": T0 + 7}},
     "stop", "idle_timeout", T0 + 10, None),
    # maximum lifetime
    ("lifetime, busy, before the warning", {"now": T0 + 96, "busy": True}, "allow", "ok", None, None),
    ("lifetime, warning", {"now": T0 + 97, "busy": True}, "warn", "max_lifetime", T0 + 100,
     "This runtime will disconnect in 3 s: maximum lifetime of 100 s. Save your work now."),
    ("lifetime reached", {"now": T0 + 100, "busy": True, "warned_at": {"max_lifetime": T0 + 97}},
     "stop", "max_lifetime", T0 + 100, "Runtime disconnected: maximum lifetime of 100 s reached."),
    # disconnect grace
    ("no viewer, within grace", {"now": T0 + 2.9, "viewers": 0, "last_viewer_left_at": T0 + 1}, "allow",
     "ok", None, None),
    ("no viewer, warning", {"now": T0 + 4, "viewers": 0, "last_viewer_left_at": T0 + 2, "busy": True},
     "warn", "disconnect_grace", T0 + 7,
     "This runtime will disconnect in 3 s: no one has the notebook open and background execution is "
     "off. Open the notebook to keep it."),
    ("no viewer, grace over", {"now": T0 + 7, "viewers": 0, "last_viewer_left_at": T0 + 2, "busy": True,
                               "warned_at": {"disconnect_grace": T0 + 4}}, "stop", "disconnect_grace",
     T0 + 7, "Runtime disconnected: no viewer for 5 s and background execution is off."),
    ("never viewed: grace from the start", {"now": T0 + 2, "viewers": 0, "busy": True}, "warn",
     "disconnect_grace", T0 + 5, None),
    ("background execution: no grace", {"tier": "big", "background": True, "now": T0 + 50, "viewers": 0,
                                        "busy": True}, "allow", "ok", None, None),
    ("background asked, tier has none", {"background": True, "now": T0 + 2, "viewers": 0, "busy": True},
     "warn", "disconnect_grace", T0 + 5, None),
    # daily accelerator hours
    ("GPU, time left", {**GPU, "accelerator_seconds_today": 1796.9}, "allow", "ok", None, None),
    ("GPU, warning", {**GPU, "accelerator_seconds_today": 1797}, "warn", "accelerator_quota", T0 + 3,
     "This runtime will disconnect in 3 s: GPU quota for today (0.5 hours) runs out. "
     "Resets at 00:00 UTC."),
    ("GPU, one runtime, 6 s left", {**GPU, "accelerator_seconds_today": 1794}, "allow", "ok", None, None),
    ("GPU, two runtimes use it twice as fast", {**GPU, "accelerator_seconds_today": 1794,
                                                "accelerator_runtimes": 2}, "warn", "accelerator_quota",
     T0 + 3, None),
    ("GPU, late warning keeps its countdown", {**GPU, "accelerator_seconds_today": 1795,
                                               "accelerator_runtimes": 2}, "warn", "accelerator_quota",
     T0 + 3, None),
    ("GPU, used up", {**GPU, "accelerator_seconds_today": 1800, "warned_at": {"accelerator_quota": T0 - 3}},
     "stop", "accelerator_quota", T0,
     "Runtime disconnected: GPU quota for today used: 0.5 of 0.5 hours. Resets at 00:00 UTC."),
    ("GPU, reset comes first", {**GPU, "accelerator_seconds_today": 1799, "now": T0 + 6399.5,
                                "started_at": T0 + 6390},
     "allow", "ok", None, None),
    ("GPU, runs out just before the reset", {**GPU, "accelerator_seconds_today": 1799, "now": T0 + 6395,
                                             "started_at": T0 + 6390}, "warn", "accelerator_quota",
     T0 + 6398, None),
    ("CPU shape ignores GPU hours", {"busy": True, "accelerator_seconds_today": 9999}, "allow", "ok",
     None, None),
    # drive quota
    ("drive one byte below", {"drive_bytes": 10 * MB - 1}, "allow", "ok", None, None),
    ("drive exactly full", {"drive_bytes": 10 * MB}, "deny", "drive_full", None,
     "Drive full: 9.5 MiB of 9.5 MiB used. Delete files from your drive to save again."),
    # precedence
    ("stop beats drive full", {"now": T0 + 10, "drive_bytes": 10 * MB, "warned_at": {"idle_timeout": T0 + 7}},
     "stop", "idle_timeout", T0 + 10, None),
    ("warning beats drive full", {"now": T0 + 7, "drive_bytes": 10 * MB}, "warn", "idle_timeout", T0 + 10,
     None),
    ("stop beats warning", {"now": T0 + 10, "viewers": 0, "last_viewer_left_at": T0 + 8,
                            "warned_at": {"idle_timeout": T0 + 7}}, "stop", "idle_timeout", T0 + 10, None),
    ("earliest stop wins", {"now": T0 + 100, "last_activity": T0 + 85, "viewers": 0,
                            "last_viewer_left_at": T0 + 94,
                            "warned_at": {"idle_timeout": T0 + 92, "disconnect_grace": T0 + 96,
                                          "max_lifetime": T0 + 97}},
     "stop", "idle_timeout", T0 + 95, None),
    ("tie: lifetime first", {"now": T0 + 100, "last_activity": T0 + 90,
                             "warned_at": {"idle_timeout": T0 + 97, "max_lifetime": T0 + 97}},
     "stop", "max_lifetime", T0 + 100, None),
    # warnings given together count down to the same time (now + 3 s): the tie order decides
    ("warnings together: lifetime first", {"now": T0 + 97, "last_activity": T0 + 88}, "warn",
     "max_lifetime", T0 + 100, None),
    ("earlier warning's stop comes first", {"now": T0 + 97, "last_activity": T0 + 88,
                                            "warned_at": {"idle_timeout": T0 + 95}},
     "warn", "max_lifetime", T0 + 100, None),
    ("earlier warning's stop comes first, then stops", {"now": T0 + 98, "last_activity": T0 + 88,
                                                        "warned_at": {"idle_timeout": T0 + 95}},
     "stop", "idle_timeout", T0 + 98, None),
]


@pytest.mark.parametrize(("changes", "kind", "code", "at", "message"), [r[1:] for r in ROWS],
                         ids=[r[0] for r in ROWS])
def test_lifecycle(runtime: Build, changes: dict[str, Any], kind: str, code: str, at: float | None,
                   message: str | None) -> None:
    d = decide_lifecycle(runtime(**changes))
    assert (d.kind, d.code, d.at) == (kind, code, at)
    if message is not None:
        assert d.message == message


def test_all_decisions_are_listed_most_pressing_first(runtime: Build) -> None:
    s = runtime(now=T0 + 100, last_activity=T0 + 88, drive_bytes=10 * MB,
                warned_at={"max_lifetime": T0 + 97})
    assert [(d.kind, d.code) for d in lifecycle_decisions(s)] == [
        ("stop", "max_lifetime"), ("warn", "idle_timeout"), ("deny", "drive_full")]


def test_gpu_stop_retries_after_the_reset(runtime: Build) -> None:
    d = decide_lifecycle(runtime(**GPU, accelerator_seconds_today=1800,
                                     warned_at={"accelerator_quota": T0 - 3}))
    assert (d.kind, d.retry_after_s) == ("stop", 6400)


@pytest.mark.parametrize(("now", "kind"), [(T0 + 9.999, "allow"), (T0 + 10, "stop")])
def test_no_warning_when_the_tier_warns_zero_seconds(runtime: Build, small: Any, now: float,
                                                     kind: str) -> None:
    tier = small.model_copy(update={"warn_before_stop_s": 0})
    assert decide_lifecycle(runtime(tier=tier, now=now)).kind == kind


def test_warning_then_stop_with_the_shipped_free_tier(runtime: Build) -> None:
    free = default_tiers()["free"]
    twelve_h = 12 * 3600
    warn = decide_lifecycle(runtime(tier=free, busy=True, now=T0 + twelve_h - 60))
    assert (warn.kind, warn.code, warn.at) == ("warn", "max_lifetime", T0 + twelve_h)
    assert warn.message == (
        "This runtime will disconnect in 1 min: maximum lifetime of 12 h. Save your work now.")
    stop = decide_lifecycle(runtime(tier=free, busy=True, now=T0 + twelve_h,
                                    warned_at={"max_lifetime": warn.at - 60}))
    assert stop.message == "Runtime disconnected: maximum lifetime of 12 h reached."
    idle = decide_lifecycle(runtime(tier=free, now=T0 + 90 * 60, warned_at={"idle_timeout": T0 + 89 * 60}))
    assert idle.message == "Runtime disconnected: idle timeout of 90 min reached."
