"""Administration across people: everyone's live sessions (and Terminate), everyone's usage."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter

from dikte.api.deps import AdminDep, ServicesDep
from dikte.api.errors import COMMON_ERRORS, error_responses
from dikte.schemas.rest import AdminSessionInfo

router = APIRouter(prefix="/api/admin", tags=["admin"],
                   responses=error_responses(*COMMON_ERRORS))


@router.get("/sessions", response_model=list[AdminSessionInfo])
async def all_sessions(_admin: AdminDep, svc: ServicesDep) -> list[dict[str, Any]]:
    """Every person's sessions, with whose they are."""
    for nb in list(svc.sessions.notebooks.values()):
        await svc.sessions.refresh_usage(nb)
    names = {p.id: p.name for p in await asyncio.to_thread(svc.db.people)}
    return [{**s, "person_name": names.get(s["person_id"], f"#{s['person_id']}")}
            for s in svc.sessions.sessions(None)]


@router.delete("/sessions/{runtime_id}", status_code=204)
async def terminate_any(runtime_id: str, _admin: AdminDep, svc: ServicesDep) -> None:
    """Terminate anyone's session; its viewers are told an administrator did."""
    nb = svc.sessions.find_runtime(None, runtime_id)
    await svc.sessions.disconnect(nb, "An administrator terminated it.")
    await svc.sessions.release(nb)


@router.get("/usage")
async def everyones_usage(_admin: AdminDep, svc: ServicesDep) -> list[dict[str, Any]]:
    """For every person: name, tier and today's usage (as ``GET /api/usage`` gives it)."""
    return [{"person_id": p.id, "name": p.name, "disabled": p.disabled,
             **svc.sessions.enforcer.usage(p.id)} for p in svc.db.people()]


@router.get("/accelerators")
async def accelerators(_admin: AdminDep, svc: ServicesDep) -> dict[str, Any]:
    """Every accelerator of this server (discovered through NVML or declared), the runtimes
    holding each, and the line of requests waiting."""
    return svc.sessions.accelerators.snapshot()


@router.get("/nodes")
async def nodes(_admin: AdminDep, svc: ServicesDep) -> list[dict[str, Any]]:
    """The machines runtimes run on: with the Ray backend, every node that joined (name,
    address, Ray's node id, accelerators, its runtimes, and when it goes if it is draining);
    on one machine, an empty list."""
    listing = getattr(svc.backend, "nodes", None)
    return list(await listing()) if listing is not None else []


@router.get("/pool")
async def pool(_admin: AdminDep, svc: ServicesDep) -> dict[str, Any]:
    """Runtimes started ahead: the pool's size per image and disk (``runtime_pool``), whether
    it is on (and why not), what is ready and starting for each, and the start gate's slots,
    starts running and starts waiting."""
    return svc.sessions.pool.info()
