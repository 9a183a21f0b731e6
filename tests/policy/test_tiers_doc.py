"""docs/tiers.md documents every tier setting (a test fails when one is missing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dikte.policy.tiers import ShapeLimits, Tier, UsageReset

DOC = Path(__file__).resolve().parents[2] / "docs" / "tiers.md"


@pytest.mark.parametrize(("model", "name"), [
    (m, n) for m in (Tier, ShapeLimits, UsageReset) for n in m.model_fields])
def test_every_tier_setting_is_documented(model: type, name: str) -> None:
    assert f"| `{name}` |" in DOC.read_text(), f"add {model.__name__}.{name} to docs/tiers.md"
