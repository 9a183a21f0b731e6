"""Health, the signed-in person, and the runtime images on offer."""

from __future__ import annotations

from fastapi import APIRouter

from dikte import __version__
from dikte.api.deps import PersonDep, ServicesDep
from dikte.api.errors import error_responses
from dikte.schemas.rest import Health, Image, Me

router = APIRouter(prefix="/api", tags=["meta"])


@router.get("/health", response_model=Health)
async def health() -> Health:
    return Health(status="ok", version=__version__)


@router.get("/me", response_model=Me, responses=error_responses(401, 403))
async def me(person: PersonDep) -> Me:
    return Me(id=person.id, name=person.name, is_admin=person.is_admin)


@router.get("/images", response_model=list[Image], responses=error_responses(401, 403))
async def images(_person: PersonDep, svc: ServicesDep) -> list[Image]:
    s = svc.settings
    return [Image(name=name, description=img.description, default=name == s.default_image)
            for name, img in sorted(s.images.items())]
