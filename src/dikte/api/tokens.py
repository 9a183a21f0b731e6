"""Personal API tokens: scoped, optionally expiring, revocable; the secret is shown once."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from dikte.api.deps import CredentialDep, PersonDep, RowId, ServicesDep
from dikte.api.errors import COMMON_ERRORS, error_responses
from dikte.db import TokenInfo
from dikte.db.accounts import normalize_scopes
from dikte.errors import Forbidden, NotFound
from dikte.schemas.rest import ApiToken, IssuedApiToken, NewApiToken

router = APIRouter(prefix="/api/tokens", tags=["tokens"],
                   responses=error_responses(*COMMON_ERRORS))
DAY = 24 * 3600


def api_token(t: TokenInfo) -> ApiToken:
    return ApiToken(id=t.id, name=t.name, scopes=list(t.scopes),
                    created_at=t.created_at, expires_at=t.expires_at,
                    last_used_at=t.last_used_at)


@router.get("", response_model=list[ApiToken])
async def my_tokens(person: PersonDep, svc: ServicesDep) -> list[ApiToken]:
    """Your tokens that are not revoked, without their secrets."""
    return [api_token(t) for t in await asyncio.to_thread(svc.db.tokens, person.id)]


@router.post("", response_model=IssuedApiToken, status_code=201)
async def new_token(body: NewApiToken, cred: CredentialDep, svc: ServicesDep) -> IssuedApiToken:
    """A new token for you; never more than the credential creating it may do."""
    scopes = normalize_scopes(body.scopes)
    beyond = [s for s in scopes if s not in cred.scopes]
    if beyond:
        why = ("only administrators hold it" if beyond[-1] == "admin" and not cred.person.is_admin
               else "what signed you in lacks it")
        raise Forbidden(f"A new token cannot have the {beyond[-1]} scope: {why}.",
                        code="scope_not_held")
    expires_at = (svc.db.clock() + body.expires_in_days * DAY
                  if body.expires_in_days is not None else None)
    info, secret = await asyncio.to_thread(svc.db.issue_token, cred.person.id, body.name, scopes,
                                           expires_at)
    return IssuedApiToken(**api_token(info).model_dump(), token=secret)


@router.delete("/{token_id}", status_code=204)
async def revoke_token(token_id: RowId, person: PersonDep, svc: ServicesDep) -> None:
    """Revoke one of your tokens; it stops working at once."""
    revoked = await asyncio.to_thread(svc.db.revoke_token, person.id, token_id)
    if revoked is None:
        raise NotFound(f"You have no token with id {token_id}.", code="no_token_id")
    svc.sessions.close_viewers("t:" + revoked)  # the notebook sockets it opened end too
