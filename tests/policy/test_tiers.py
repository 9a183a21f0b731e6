"""The tier model: the shipped table, validation of tier data, and the wording helpers."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from dikte.policy import (
    ShapeLimits,
    Tier,
    UsageReset,
    default_tiers,
    format_duration,
    format_size,
    is_accelerator_shape,
    parse_size,
)

GiB = 2**30
TIERS = default_tiers()


def _get(tier: str, path: str) -> Any:
    value: Any = TIERS[tier]
    for part in path.split("."):
        value = value[part] if isinstance(value, dict) else getattr(value, part)
    return value


# the table, row by row
@pytest.mark.parametrize(("path", "free", "pro", "pro_plus"), [
    ("shapes.standard.max_sessions", 1, 2, 3),
    ("shapes.high_ram.max_sessions", 0, 1, 3),
    ("background_sessions", 0, 0, 2),
    ("background_execution", False, False, True),
    ("shapes.standard.memory", 12 * GiB, 12 * GiB, 12 * GiB),
    ("shapes.high_ram.memory", 0, 25 * GiB, 52 * GiB),
    ("shapes.high_ram.available", False, True, True),
    ("max_lifetime_s", 12 * 3600, 24 * 3600, 24 * 3600),
    ("idle_timeout_s", 90 * 60, 180 * 60, 180 * 60),
    ("daily_accelerator_hours", 4, 12, 24),
    ("drive_quota", 15 * GiB, 100 * GiB, 200 * GiB),
    ("warn_before_stop_s", 60, 60, 60),
])
def test_shipped_table(path: str, free: Any, pro: Any, pro_plus: Any) -> None:
    assert [_get(t, path) for t in ("free", "pro", "pro_plus")] == [free, pro, pro_plus]


def test_shipped_tiers_are_keyed_by_name_and_offer_what_they_say() -> None:
    assert list(TIERS) == ["free", "pro", "pro_plus"]
    assert all(name == t.name for name, t in TIERS.items())
    assert [t.offers("high_ram") for t in TIERS.values()] == [False, True, True]
    assert [t.offers_background for t in TIERS.values()] == [False, False, True]


def test_tiers_load_from_config_like_data() -> None:
    tier = Tier.model_validate({
        "name": "lab", "shapes": {"standard": {"max_sessions": 2, "memory": "4GiB", "disk": "500 MB"}},
        "idle_timeout_s": 60, "max_lifetime_s": 3600, "disconnect_grace_s": 0,
        "daily_accelerator_hours": 1.5, "drive_quota": "1GiB"})
    assert tier.shapes["standard"].memory == 4 * GiB
    assert tier.shapes["standard"].disk == 500 * 10**6
    assert (tier.drive_quota, tier.daily_accelerator_s, tier.connect_limit) == (GiB, 5400, 10)


_TIER = {"name": "t", "shapes": {}, "idle_timeout_s": 1, "max_lifetime_s": 1, "disconnect_grace_s": 0,
         "daily_accelerator_hours": 0, "drive_quota": 0}


@pytest.mark.parametrize(("model", "data", "match"), [
    (ShapeLimits, {"max_sessions": 1, "memory": "12 parsecs", "disk": 1}, "expected a size"),
    (ShapeLimits, {"max_sessions": 1, "memory": -1, "disk": 1}, "cannot be negative"),
    (ShapeLimits, {"max_sessions": 1, "memory": True, "disk": 1}, "expected a size"),
    (ShapeLimits, {"max_sessions": 1, "memory": 0, "disk": 1}, "needs memory and disk"),
    (ShapeLimits, {"max_sessions": -1, "memory": 1, "disk": 1}, "greater than or equal to 0"),
    (ShapeLimits, {"max_sessions": 1, "memory": 1, "disk": 1, "gpus": 2}, "Extra inputs"),
    (Tier, {**_TIER, "background_sessions": 1}, "background_execution is off"),
    (Tier, {**_TIER, "shapes": {"T4 x2": {"max_sessions": 1, "memory": 1, "disk": 1}}}, "shape name"),
    (Tier, {**_TIER, "idle_timeout_s": 0}, "greater than or equal to 1"),
    (Tier, {**_TIER, "warn_before_stop_s": -1}, "greater than or equal to 0"),
    (UsageReset, {"time": "24:00"}, "expected a time"),
    (UsageReset, {"time": "7:00"}, "expected a time"),
    (UsageReset, {"timezone": "Mars/Olympus_Mons"}, "unknown time zone"),
    (UsageReset, {"timezone": "../etc/passwd"}, "unknown time zone"),
])
def test_invalid_tier_data_is_refused(model: Any, data: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        model.model_validate(data)


def test_every_field_has_a_description() -> None:
    for model in (ShapeLimits, Tier, UsageReset):
        missing = [n for n, f in model.model_fields.items() if not f.description]
        assert not missing, f"{model.__name__}: {missing}"


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 s"), (0.2, "1 s"), (59, "59 s"), (60, "1 min"), (90, "90 s"), (5400, "90 min"),
    (3600, "1 h"), (12 * 3600, "12 h"), (3660, "61 min")])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(("value", "size"), [
    (1024, 1024), ("12GiB", 12 * GiB), ("500 MB", 500 * 10**6), ("1.5KiB", 1536), ("7", 7)])
def test_parse_size(value: object, size: int) -> None:
    assert parse_size(value) == size


@pytest.mark.parametrize(("size", "text"), [
    (15 * GiB, "15 GiB"), (int(1.5 * 2**20), "1.5 MiB"), (10, "10 B")])
def test_format_size(size: int, text: str) -> None:
    assert format_size(size) == text


@pytest.mark.parametrize(("shape", "accelerator"), [
    ("standard", False), ("high_ram", False), ("T4", True), ("A100", True)])
def test_accelerator_shapes(shape: str, accelerator: bool) -> None:
    assert is_accelerator_shape(shape) is accelerator
