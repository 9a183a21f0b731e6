"""Secrets, as in Colab's Secrets panel: a person's named values, read by granted notebooks.

The person lists names, sets values, deletes, and grants or revokes a notebook's access; values
are write-only through this API (no listing or GET returns one). A runtime reads a value through
the runtime channel, and only for a secret granted to the notebook it runs: that is what
``google.colab.userdata.get`` calls.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from dikte.api.deps import PersonDep, services
from dikte.api.errors import COMMON_ERRORS, error_responses
from dikte.api.runtime_channel import CallerDep
from dikte.db.secrets import SecretBox, SecretInfo, SecretStore
from dikte.drive.paths import clean_parts, join
from dikte.errors import BadRequest, NotFound
from dikte.schemas.rest import (
    SECRET_NAME_PATTERN,
    SecretAccessBody,
    SecretEntry,
    SecretReply,
    SecretValueBody,
)

router = APIRouter(tags=["secrets"], responses=error_responses(*COMMON_ERRORS, 429))

SecretName = Annotated[str, Path(
    pattern=SECRET_NAME_PATTERN,
    description="1 to 100 letters, digits, _ . or -, starting with a letter or _.")]


def secret_store(request: Request) -> SecretStore:
    box: SecretBox = request.app.state.secret_box
    return SecretStore(services(request).db.session, box)


StoreDep = Annotated[SecretStore, Depends(secret_store)]


def notebook_path(path: str) -> str:
    """A notebook's drive path in one spelling (``a//b/./c.ipynb`` is ``a/b/c.ipynb``)."""
    rel = join(clean_parts(path))
    if not rel.endswith(".ipynb"):
        raise BadRequest(f"{path} is not a notebook (.ipynb).", code="not_a_notebook")
    return rel


def _entry(info: SecretInfo) -> SecretEntry:
    return SecretEntry(name=info.name, created_at=info.created_at, updated_at=info.updated_at,
                       notebooks=list(info.notebooks))


def _missing(name: str) -> NotFound:
    return NotFound(f"You have no secret named {name}.", code="secret_not_found")


@router.get("/api/secrets", response_model=list[SecretEntry])
def list_secrets(person: PersonDep, store: StoreDep) -> list[SecretEntry]:
    """Your secrets: names and the notebooks granted each one, never values."""
    return [_entry(i) for i in store.listing(person.id)]


@router.put("/api/secrets/{name}", response_model=SecretEntry,
            responses={201: {"model": SecretEntry, "description": "Created."}})
def put_secret(name: SecretName, body: SecretValueBody, person: PersonDep, store: StoreDep,
               response: Response) -> SecretEntry:
    """Add a secret, or replace its value (its grants stay). 201 when it is new."""
    info, created = store.put(person.id, name, body.value)
    if created:
        response.status_code = 201
    return _entry(info)


@router.delete("/api/secrets/{name}", status_code=204)
def delete_secret(name: SecretName, person: PersonDep, store: StoreDep) -> None:
    """Delete a secret and every notebook's access to it."""
    if not store.delete(person.id, name):
        raise _missing(name)


@router.post("/api/secrets/{name}/access", response_model=SecretEntry)
def set_access(name: SecretName, body: SecretAccessBody, person: PersonDep,
               store: StoreDep) -> SecretEntry:
    """Grant or revoke one notebook's access to a secret (Colab's "Notebook access")."""
    info = store.set_access(person.id, name, notebook_path(body.path), body.granted)
    if info is None:
        raise _missing(name)
    return _entry(info)


@router.get("/api/runtime-channel/{runtime_id}/secrets/{name}", response_model=SecretReply,
            tags=["runtime channel"])
def read_secret(name: SecretName, caller: CallerDep, store: StoreDep) -> SecretReply:
    """For a runtime (its token): a secret of its person, if granted to its notebook.

    The answer is Colab's ``GetSecret`` reply: whether the secret exists, whether this
    notebook may read it, and then its value (``userdata.get`` raises ``SecretNotFoundError``
    or ``NotebookAccessError`` from it)."""
    notebook = join(clean_parts(caller.nb.path))
    found = store.read(caller.nb.person_id, name, notebook)
    if not found.exists:
        return SecretReply(name=name, exists=False, access=False, message=(
            f"Secret {name} does not exist. Add it in the Secrets panel (the key icon on the "
            "left of the notebook)."))
    if not found.access or found.value is None:
        return SecretReply(name=name, exists=True, access=False, message=(
            f"Notebook does not have access to secret {name}. Turn on \"Notebook access\" for "
            f"{name} in the Secrets panel (the key icon on the left of {notebook}) and run the "
            "cell again."))
    return SecretReply(name=name, exists=True, access=True, value=found.value)
