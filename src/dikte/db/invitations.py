"""Invitations: an administrator invites someone new; they choose a password and are in.

An invitation names the person to be (name, tier, administrator or not) and holds the SHA-256 of
a random code (256 bits) that goes, once, into the link the administrator passes on. Following
it, the person chooses a password: the person is created and the invitation is used up, in one
transaction that only succeeds while the invitation is pending (not used, withdrawn or expired),
so two tabs racing with one link make one person. A new invitation for a name replaces a
pending one for the same name. Refusals are sentences that say what to do.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from dikte.db.accounts import Person, check_name, hash_password, hash_secret, person_of
from dikte.db.models import InvitationRow, PersonRow
from dikte.errors import Conflict, DikteError, NotFound

Status = Literal["pending", "used", "expired", "revoked"]
GONE = 410  # an invitation that existed and can no longer be used


@dataclass(frozen=True)
class Invitation:
    id: int
    name: str
    tier: str
    is_admin: bool
    invited_by: str | None  # the administrator's name (None once they are deleted)
    created_at: float
    expires_at: float
    used_at: float | None
    revoked_at: float | None
    status: Status


def new_code() -> str:
    return secrets.token_urlsafe(32)


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _status(row: InvitationRow, now: float) -> Status:
    if row.used_at is not None:
        return "used"
    if row.revoked_at is not None:
        return "revoked"
    return "expired" if row.expires_at <= now else "pending"


def refusal(row: InvitationRow | None, now: float) -> DikteError | None:
    """Why this invitation cannot be used now (a sentence for the invitee), or None."""
    if row is None:
        return NotFound("This invitation link is not valid. Check that you copied all of it, or "
                        "ask your administrator for a new one.", code="no_invitation")
    status = _status(row, now)
    if status == "used":
        return DikteError("This invitation was already used. Sign in with your name and "
                          "password, or ask your administrator for a new invitation.",
                          code="invitation_used", status=GONE)
    if status == "revoked":
        return DikteError("This invitation was withdrawn by an administrator. Ask them for a "
                          "new one.", code="invitation_revoked", status=GONE)
    if status == "expired":
        return DikteError(f"This invitation expired on {_when(row.expires_at)}. Ask your "
                          "administrator for a new one.", code="invitation_expired",
                          status=GONE)
    return None


class Invitations:
    def __init__(self, session: Callable[[], Session], *, clock: Callable[[], float]) -> None:
        self.session = session
        self.clock = clock

    def _info(self, row: InvitationRow, inviter: str | None) -> Invitation:
        return Invitation(id=row.id, name=row.name, tier=row.tier, is_admin=row.is_admin,
                          invited_by=inviter, created_at=row.created_at,
                          expires_at=row.expires_at, used_at=row.used_at,
                          revoked_at=row.revoked_at, status=_status(row, self.clock()))

    def invite(self, name: str, *, tier: str, is_admin: bool, invited_by: int | None,
               lifetime: float) -> tuple[Invitation, str]:
        """A new invitation and its code (shown once, stored only hashed)."""
        check_name(name)
        code = new_code()
        now = self.clock()
        with self.session() as s, s.begin():
            if s.scalar(select(PersonRow.id).where(PersonRow.name == name)) is not None:
                raise Conflict(f"There is already someone called {name!r}.", code="name_taken")
            s.execute(update(InvitationRow)  # a new link for a name replaces a pending one
                      .where(InvitationRow.name == name, InvitationRow.used_at.is_(None),
                             InvitationRow.revoked_at.is_(None), InvitationRow.expires_at > now)
                      .values(revoked_at=now))
            row = InvitationRow(code_hash=hash_secret(code), name=name, tier=tier,
                                is_admin=is_admin, invited_by=invited_by, created_at=now,
                                expires_at=now + lifetime)
            s.add(row)
            s.flush()
            inviter = (s.scalar(select(PersonRow.name).where(PersonRow.id == invited_by))
                       if invited_by is not None else None)
            return self._info(row, inviter), code

    def listing(self) -> list[Invitation]:
        """Every invitation, newest first."""
        inviter = aliased(PersonRow)
        with self.session() as s:
            rows = s.execute(select(InvitationRow, inviter.name)
                             .outerjoin(inviter, InvitationRow.invited_by == inviter.id)
                             .order_by(InvitationRow.id.desc())).all()
            return [self._info(row, name) for row, name in rows]

    def revoke(self, invitation_id: int) -> Invitation:
        """Withdraw an invitation; one already used stays as it is (disable the person instead)."""
        with self.session() as s, s.begin():
            row = s.get(InvitationRow, invitation_id)
            if row is None:
                raise NotFound(f"There is no invitation with id {invitation_id}.",
                               code="no_invitation")
            if row.used_at is not None:
                raise Conflict(f"The invitation of {row.name} was already used; disable "
                               f"{row.name} instead.", code="invitation_used")
            if row.revoked_at is None:
                row.revoked_at = self.clock()
            inviter = (s.scalar(select(PersonRow.name).where(PersonRow.id == row.invited_by))
                       if row.invited_by is not None else None)
            return self._info(row, inviter)

    def find(self, code: str) -> Invitation:
        """The pending invitation with this code, or the refusal saying why not."""
        with self.session() as s:
            row = s.scalar(select(InvitationRow)
                           .where(InvitationRow.code_hash == hash_secret(code)))
            refused = refusal(row, self.clock())
            if refused is not None:
                raise refused
            assert row is not None
            return self._info(row, None)

    def accept(self, code: str, password: str) -> Person:
        """Create the invited person with this password and use the invitation up."""
        password_hash = hash_password(password)  # argon2 (slow) before the transaction
        code_hash = hash_secret(code)
        now = self.clock()
        try:
            with self.session() as s, s.begin():
                claimed: CursorResult[Any] = s.execute(  # type: ignore[assignment]
                    update(InvitationRow)
                    .where(InvitationRow.code_hash == code_hash, InvitationRow.used_at.is_(None),
                           InvitationRow.revoked_at.is_(None), InvitationRow.expires_at > now)
                    .values(used_at=now))
                if claimed.rowcount != 1:
                    row = s.scalar(select(InvitationRow)
                                   .where(InvitationRow.code_hash == code_hash))
                    refused = refusal(row, now) or refusal(None, now)
                    assert refused is not None
                    raise refused
                row = s.scalar(select(InvitationRow).where(InvitationRow.code_hash == code_hash))
                assert row is not None
                person = PersonRow(name=row.name, is_admin=row.is_admin, created_at=now,
                                   tier=row.tier, disabled=False, password_hash=password_hash)
                s.add(person)
                s.flush()
                row.person_id = person.id
                return person_of(person)
        except IntegrityError:
            raise Conflict("Someone with the name of this invitation was added in the "
                           "meantime. Ask your administrator for a new invitation.",
                           code="name_taken") from None
