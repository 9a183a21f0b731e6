"""Health, the signed-in person, and the runtime images on offer."""

from __future__ import annotations

from fastapi import APIRouter

from dikte import __version__
from dikte.api.deps import PersonDep, ServicesDep
from dikte.api.errors import error_responses
from dikte.images import catalog
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
    """The images on offer, built or not, with each built one's version."""
    s = svc.settings
    out = []
    for image in catalog.states(s):
        m = image.manifest
        out.append(Image(
            name=image.name, description=image.description, default=image.name == s.default_image,
            built=image.ready, version=m.version if m else None,
            python_version=m.python_version if m else None,
            packages=len(m.packages) if m else None, built_at=m.built_at if m else None,
            build_command=(catalog.build_command(image.name)
                           if image.built_by_dikte and not image.ready else None)))
    return out
