"""The people of this Dikte, for administrators: list, add, change tier, disable, promote.

There is no self-registration: people are created here or with ``dikte user add``.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from dikte.api.deps import AdminDep, RowId, Services, ServicesDep
from dikte.api.errors import COMMON_ERRORS, error_responses
from dikte.db import Person
from dikte.errors import BadRequest, Conflict, NotFound
from dikte.schemas.rest import NewPerson, PersonChange, PersonInfo

router = APIRouter(prefix="/api/people", tags=["people"],
                   responses=error_responses(*COMMON_ERRORS))


def person_info(p: Person) -> PersonInfo:
    return PersonInfo(id=p.id, name=p.name, is_admin=p.is_admin, tier=p.tier,
                      disabled=p.disabled, has_password=p.has_password, created_at=p.created_at)


@router.get("", response_model=list[PersonInfo])
async def list_people(_admin: AdminDep, svc: ServicesDep) -> list[PersonInfo]:
    return [person_info(p) for p in await asyncio.to_thread(svc.db.people)]


@router.post("", response_model=PersonInfo, status_code=201)
async def add_person(body: NewPerson, _admin: AdminDep, svc: ServicesDep) -> PersonInfo:
    tier = body.tier if body.tier is not None else svc.settings.default_tier
    check_tier(svc, tier)
    person = await asyncio.to_thread(svc.db.add_person, body.name, password=body.password,
                                     is_admin=body.is_admin, tier=tier)
    return person_info(person)


@router.patch("/{person_id}", response_model=PersonInfo)
async def change_person(person_id: RowId, body: PersonChange, admin: AdminDep,
                        svc: ServicesDep) -> PersonInfo:
    """Change tier, password, admin role; ``disabled: true`` signs the person out everywhere."""
    if await asyncio.to_thread(svc.db.person, person_id) is None:
        raise NotFound(f"There is no person with id {person_id}.", code="no_person")
    if person_id == admin.person.id and (body.disabled or body.is_admin is False):
        raise Conflict("You cannot disable yourself or take away your own admin role; ask "
                       "another administrator.", code="self_lockout")
    check_tier(svc, body.tier)
    person = await asyncio.to_thread(svc.db.update_person, person_id, tier=body.tier,
                                     disabled=body.disabled, is_admin=body.is_admin,
                                     password=body.password)
    svc.sessions.enforcer.forget_tier(person_id)
    if body.disabled:
        await svc.sessions.disconnect_person(person_id, "Your account was disabled.")
    return person_info(person)


def check_tier(svc: Services, tier: str | None) -> None:
    if tier is not None and tier not in svc.settings.tiers:
        raise BadRequest(f"There is no tier {tier!r}; the tiers are "
                         f"{', '.join(sorted(svc.settings.tiers))}.", code="no_such_tier")
