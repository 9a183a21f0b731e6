"""Sessions: what "Manage sessions" lists and terminates."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dikte.api.deps import PersonDep, ServicesDep
from dikte.api.errors import COMMON_ERRORS, error_responses
from dikte.schemas.rest import SessionInfo

router = APIRouter(prefix="/api/sessions", tags=["sessions"],
                   responses=error_responses(*COMMON_ERRORS))


@router.get("", response_model=list[SessionInfo])
async def list_sessions(person: PersonDep, svc: ServicesDep) -> list[dict[str, Any]]:
    for nb in list(svc.sessions.notebooks.values()):
        if nb.person_id == person.id:
            await svc.sessions.refresh_usage(nb)
    return svc.sessions.sessions(person.id)


@router.delete("/{runtime_id}", status_code=204)
async def terminate(runtime_id: str, person: PersonDep, svc: ServicesDep) -> None:
    nb = svc.sessions.find_runtime(person.id, runtime_id)
    await svc.sessions.disconnect(nb, "It was terminated from Manage sessions.")
    await svc.sessions.release(nb)
