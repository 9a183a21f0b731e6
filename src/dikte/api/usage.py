"""Published limits and "My usage": Dikte's limits are shown, not hidden."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dikte.api.deps import PersonDep, ServicesDep
from dikte.api.errors import error_responses

router = APIRouter(prefix="/api", tags=["usage"], responses=error_responses(401, 403))


@router.get("/tiers")
async def tiers(_person: PersonDep, svc: ServicesDep) -> dict[str, Any]:
    """Every tier and its limits, as configured."""
    s = svc.settings
    return {"default_tier": s.default_tier, "reset": s.usage_reset.model_dump(),
            "tiers": {name: t.model_dump(mode="json") for name, t in s.tiers.items()}}


@router.get("/usage")
async def my_usage(person: PersonDep, svc: ServicesDep) -> dict[str, Any]:
    """My tier, what I used today (from runtime start and stop events) and when it resets."""
    return svc.sessions.enforcer.usage(person.id)
