"""Invitations: administrators invite people; an invitee follows the link and chooses a password.

The link is ``/invite#<code>``. The code sits in the fragment, which browsers never send to a
server (so it is in no access log and no Referer); the page reads it and posts it in a body.
There is still no sign-up: only a pending invitation creates a person.

The routes are plain ``def``: each is database work (and argon2 on accepting), which Starlette
runs in its threadpool, never on the event loop every person shares.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from dikte.api.deps import AdminDep, RowId, ServicesDep, check_origin
from dikte.api.errors import COMMON_ERRORS, error_responses
from dikte.api.people import check_tier
from dikte.api.redirects import DEFAULT_NEXT
from dikte.api.web import origin_of, start_browser_session
from dikte.db import SCOPES
from dikte.db.invitations import Invitation, Invitations
from dikte.schemas.rest import (
    AcceptInvitation,
    ErrorResponse,
    InvitationCode,
    InvitationInfo,
    InvitationPreview,
    IssuedInvitation,
    NewInvitation,
    SignedIn,
)

DAY = 24 * 3600
GONE: dict[int | str, dict[str, Any]] = {410: {
    "model": ErrorResponse,
    "description": "The invitation was used, withdrawn or has expired (see error.code)."}}

admin_router = APIRouter(prefix="/api/invitations", tags=["people"],
                         responses=error_responses(*COMMON_ERRORS))
router = APIRouter(prefix="/api/auth/invitation", tags=["auth"],
                   responses={**error_responses(400, 403, 404, 409, 422), **GONE})


def invitations(svc: ServicesDep) -> Invitations:
    return Invitations(svc.db.session, clock=svc.db.clock)


InvitationsDep = Annotated[Invitations, Depends(invitations)]


def invitation_info(inv: Invitation) -> InvitationInfo:
    return InvitationInfo(id=inv.id, name=inv.name, tier=inv.tier, is_admin=inv.is_admin,
                          invited_by=inv.invited_by, created_at=inv.created_at,
                          expires_at=inv.expires_at, used_at=inv.used_at,
                          revoked_at=inv.revoked_at, status=inv.status)


@admin_router.get("", response_model=list[InvitationInfo])
def list_invitations(_admin: AdminDep, store: InvitationsDep) -> list[InvitationInfo]:
    """Every invitation, newest first, with its status (pending, used, expired, revoked)."""
    return [invitation_info(i) for i in store.listing()]


@admin_router.post("", response_model=IssuedInvitation, status_code=201)
def invite(body: NewInvitation, request: Request, admin: AdminDep, svc: ServicesDep,
                 store: InvitationsDep) -> IssuedInvitation:
    """Invite someone: the answer holds the link to pass on (shown once). A new invitation for a
    name replaces a pending one."""
    tier = body.tier if body.tier is not None else svc.settings.default_tier
    check_tier(svc, tier)
    inv, code = store.invite(body.name, tier=tier, is_admin=body.is_admin,
                             invited_by=admin.person.id, lifetime=body.expires_in_days * DAY)
    return IssuedInvitation(**invitation_info(inv).model_dump(), code=code,
                            link=f"{origin_of(request)}/invite#{code}")


@admin_router.delete("/{invitation_id}", response_model=InvitationInfo)
def revoke_invitation(invitation_id: RowId, _admin: AdminDep,
                            store: InvitationsDep) -> InvitationInfo:
    """Withdraw an invitation: its link stops working at once."""
    return invitation_info(store.revoke(invitation_id))


@router.post("", response_model=InvitationPreview)
def look_up(body: InvitationCode, request: Request,
                  store: InvitationsDep) -> InvitationPreview:
    """Whom a pending invitation is for (no credential needed: the code is the credential)."""
    check_origin(request)
    inv = store.find(body.code)
    return InvitationPreview(name=inv.name, expires_at=inv.expires_at)


@router.post("/accept", response_model=SignedIn)
def accept(body: AcceptInvitation, request: Request, response: Response,
                 svc: ServicesDep, store: InvitationsDep) -> SignedIn:
    """Choose a password: creates the invited person, uses the invitation up and signs this
    browser in (as ``POST /api/auth/login`` does)."""
    check_origin(request, required=True)
    person = store.accept(body.code, body.password)
    start_browser_session(request, response, svc, person, SCOPES)
    return SignedIn(id=person.id, name=person.name, is_admin=person.is_admin, next=DEFAULT_NEXT)
