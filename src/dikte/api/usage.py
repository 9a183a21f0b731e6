"""Published limits and "My usage": Dikte's limits are shown, not hidden."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter

from dikte.api.deps import PersonDep, ServicesDep
from dikte.api.errors import error_responses
from dikte.schemas.rest import ShapeOffer

router = APIRouter(prefix="/api", tags=["usage"], responses=error_responses(401, 403))


@router.get("/tiers")
async def tiers(_person: PersonDep, svc: ServicesDep) -> dict[str, Any]:
    """Every tier and its limits, as configured."""
    s = svc.settings
    return {"default_tier": s.default_tier, "reset": s.usage_reset.model_dump(),
            "tiers": {name: t.model_dump(mode="json") for name, t in s.tiers.items()}}


@router.get("/shapes", response_model=list[ShapeOffer])
async def shapes(person: PersonDep, svc: ServicesDep) -> list[dict[str, Any]]:
    """The runtime types this server offers (CPU shapes and each accelerator type it has), with
    free devices, the line waiting, and whether my tier allows each and why not."""
    drive = svc.drive(person.id)
    used = await asyncio.to_thread(drive.usage_bytes)
    used_s = await asyncio.to_thread(svc.sessions.enforcer.accelerator_seconds, person.id,
                                     time.time())  # a database query: off the loop
    return svc.sessions.enforcer.shape_offers(person.id, used, used_s)


@router.get("/usage")
async def my_usage(person: PersonDep, svc: ServicesDep) -> dict[str, Any]:
    """My tier, what I used today (from runtime start and stop events) and when it resets."""
    # the runtime events are a database query: off the event loop every person shares
    return await asyncio.to_thread(svc.sessions.enforcer.usage, person.id)
