"""People, passwords, personal API tokens and server-side web sessions.

Secrets never rest in the database in the clear: passwords are argon2id hashes, API tokens and
web-session ids (random, 256 bits) are stored as their SHA-256. The clock is ``Database.clock``,
so tests can move time without sleeping. Invitations (``dikte.db.invitations``) and failed
sign-ins (``dikte.db.sign_ins``) have their own modules and use the helpers here.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dikte.db.last_used import Kind, LastUsed
from dikte.db.models import PersonRow, TokenRow, WebSessionRow
from dikte.errors import BadRequest, Conflict, NotFound

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}")
MIN_PASSWORD = 8

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the name is unknown, so a wrong name costs as long as a wrong
    password. Made at first use: an argon2 hash takes a third of a CPU second, which every
    process importing this module (each ``dikte`` command) would otherwise pay."""
    return _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    is_admin: bool
    tier: str = "free"
    disabled: bool = False
    has_password: bool = False
    created_at: float = 0.0


@dataclass(frozen=True)
class Credential:
    """Who is asking and what this credential lets them do."""

    person: Person
    scopes: frozenset[str]
    kind: Literal["token", "session"]


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    scopes: tuple[str, ...]
    created_at: float
    expires_at: float | None
    last_used_at: float | None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return "dk_" + secrets.token_urlsafe(32)


def normalize_scopes(scopes: Iterable[str]) -> tuple[Scope, ...]:
    """Scopes nest: write includes read, admin includes write. Unknown ones are refused."""
    given = set(scopes)
    unknown = given - set(SCOPES)
    if unknown:
        raise BadRequest(f"Unknown scope {sorted(unknown)[0]!r}: use read, write or admin.",
                         code="bad_scope")
    if not given:
        raise BadRequest("Give a token at least one scope: read, write or admin.",
                         code="bad_scope")
    top = max(SCOPES.index(s) for s in given)
    return SCOPES[: top + 1]


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise BadRequest("A name has 1 to 100 letters, digits or . _ @ + - and starts with a "
                         "letter or digit.", code="bad_name")
    return name


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise BadRequest(f"A password needs at least {MIN_PASSWORD} characters.",
                         code="weak_password")
    return _hasher.hash(password)


def person_of(row: PersonRow) -> Person:
    return Person(id=row.id, name=row.name, is_admin=row.is_admin, tier=row.tier,
                  disabled=row.disabled, has_password=row.password_hash is not None,
                  created_at=row.created_at)


def _token(row: TokenRow) -> TokenInfo:
    return TokenInfo(id=row.id, name=row.name, scopes=tuple(row.scopes.split()),
                     created_at=row.created_at, expires_at=row.expires_at,
                     last_used_at=row.last_used_at)


class Accounts:
    """The account queries of :class:`dikte.db.Database` (mixed in; one transaction each)."""

    clock: Callable[[], float]
    last_used: LastUsed

    def session(self) -> Session:
        raise NotImplementedError

    def write_last_used(self, kind: Kind, row_id: int, now: float) -> None:
        """Record when a credential was last used (called by :attr:`last_used`, in its thread)."""
        with self.session() as s, s.begin():
            if kind == "token":
                s.execute(update(TokenRow).where(TokenRow.id == row_id)
                          .values(last_used_at=now))
            else:
                s.execute(update(WebSessionRow).where(WebSessionRow.id == row_id)
                          .values(last_seen=now))

    # people

    def add_person(self, name: str, *, password: str | None = None, is_admin: bool = False,
                   tier: str = "free") -> Person:
        row = PersonRow(name=check_name(name), is_admin=is_admin, created_at=self.clock(),
                        tier=tier, disabled=False,
                        password_hash=hash_password(password) if password else None)
        try:
            with self.session() as s, s.begin():
                s.add(row)
        except IntegrityError:
            raise Conflict(f"There is already someone called {name!r}.",
                           code="name_taken") from None
        return person_of(row)

    def people(self) -> list[Person]:
        with self.session() as s:
            return [person_of(r) for r in s.scalars(select(PersonRow).order_by(PersonRow.id))]

    def person(self, person_id: int) -> Person | None:
        with self.session() as s:
            row = s.get(PersonRow, person_id)
            return person_of(row) if row else None

    def person_by_name(self, name: str) -> Person | None:
        with self.session() as s:
            row = s.scalar(select(PersonRow).where(PersonRow.name == name))
            return person_of(row) if row else None

    def update_person(self, person_id: int, *, tier: str | None = None,
                      disabled: bool | None = None, is_admin: bool | None = None,
                      password: str | None = None) -> Person:
        """Change a person; disabling one also revokes every token and web session at once."""
        new_hash = hash_password(password) if password is not None else None
        with self.session() as s, s.begin():
            row = s.get(PersonRow, person_id)
            if row is None:
                raise NotFound(f"There is no person with id {person_id}.", code="no_person")
            if tier is not None:
                if not tier.strip() or len(tier) > 100:
                    raise BadRequest("A tier is a name of 1 to 100 characters.", code="bad_tier")
                row.tier = tier
            if is_admin is not None:
                row.is_admin = is_admin
            if new_hash is not None:
                row.password_hash = new_hash
            if disabled is not None:
                row.disabled = disabled
                if disabled:
                    self._revoke_all(s, person_id)
            return person_of(row)

    def check_password(self, name: str, password: str) -> Person | None:
        """The person with this name and password (not disabled), or None. Same cost either way."""
        with self.session() as s:
            row = s.scalar(select(PersonRow).where(PersonRow.name == name))
            stored = row.password_hash if row is not None else None
            try:
                _hasher.verify(stored or _dummy_hash(), password)
            except (VerificationError, InvalidHashError):
                return None
            if row is None or stored is None or row.disabled:
                return None
            person = person_of(row)
        if _hasher.check_needs_rehash(stored):
            with self.session() as s, s.begin():
                fresh = s.get(PersonRow, person.id)
                if fresh is not None:
                    fresh.password_hash = _hasher.hash(password)
        return person

    def login_external(self, issuer: str, subject: str, name: str) -> Person:
        """The seam for an external login provider (OIDC); nothing calls it yet.

        A provider that has verified someone (an ID token checked against the issuer's keys)
        calls this with the issuer, the stable ``sub`` claim and a suggested name. The person
        linked to ``issuer|subject`` is returned; someone new is created with the free tier and
        no password (sign-up by provider is the admin's choice, so a caller enforces its own
        allow list first). The caller then starts a web session as for a password login.
        """
        key = f"{issuer}|{subject}"
        with self.session() as s, s.begin():
            row = s.scalar(select(PersonRow).where(PersonRow.external_subject == key))
            if row is None:
                if s.scalar(select(PersonRow).where(PersonRow.name == name)) is not None:
                    raise Conflict(f"There is already someone called {name!r}; an administrator "
                                   "must link the accounts.", code="name_taken")
                row = PersonRow(name=check_name(name), is_admin=False, created_at=self.clock(),
                                tier="free", disabled=False, external_subject=key)
                s.add(row)
                s.flush()
            return person_of(row)

    # personal API tokens

    def issue_token(self, person_id: int, name: str, scopes: Iterable[str] = SCOPES,
                    expires_at: float | None = None) -> tuple[TokenInfo, str]:
        """A new token: its description, and the secret (shown once, stored only hashed)."""
        secret = new_secret()
        row = TokenRow(person_id=person_id, token_hash=hash_secret(secret), name=name[:200],
                       created_at=self.clock(), revoked=False,
                       scopes=" ".join(normalize_scopes(scopes)), expires_at=expires_at)
        with self.session() as s, s.begin():
            s.add(row)
        return _token(row), secret

    def create_token(self, person_id: int, name: str) -> str:
        return self.issue_token(person_id, name)[1]

    def tokens(self, person_id: int) -> list[TokenInfo]:
        """A person's tokens that are not revoked (expired ones too, until revoked)."""
        with self.session() as s:
            q = select(TokenRow).where(TokenRow.person_id == person_id,
                                       TokenRow.revoked.is_(False)).order_by(TokenRow.id)
            return [_token(r) for r in s.scalars(q)]

    def revoke_token(self, person_id: int, token_id: int) -> str | None:
        """Revoke one of the person's tokens; its hash (which names the sockets it opened), or
        None when the person has no such live token."""
        with self.session() as s, s.begin():
            row = s.get(TokenRow, token_id)
            if row is None or row.person_id != person_id or row.revoked:
                return None
            row.revoked = True
            return row.token_hash

    def credential_for_token(self, token: str) -> Credential | None:
        now = self.clock()
        with self.session() as s:
            found = s.execute(
                select(TokenRow, PersonRow).join(PersonRow, TokenRow.person_id == PersonRow.id)
                .where(TokenRow.token_hash == hash_secret(token), TokenRow.revoked.is_(False))
            ).one_or_none()
            if found is None:
                return None
            tok, row = found
            if row.disabled or (tok.expires_at is not None and tok.expires_at <= now):
                return None
            scopes = set(tok.scopes.split())
            if not row.is_admin:
                scopes.discard("admin")
            cred = Credential(person=person_of(row), scopes=frozenset(scopes), kind="token")
        self.last_used.note("token", tok.id, tok.last_used_at, now)
        return cred

    def person_for_token(self, token: str) -> Person | None:
        cred = self.credential_for_token(token)
        return cred.person if cred else None

    # web sessions

    def start_web_session(self, person_id: int, lifetime: float,
                          scopes: Iterable[str] = SCOPES) -> str:
        """A new signed-in browser; returns the session id for its cookie (never stored)."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        with self.session() as s, s.begin():
            s.add(WebSessionRow(person_id=person_id, session_hash=hash_secret(session_id),
                                created_at=now, last_seen=now, expires_at=now + lifetime,
                                revoked=False, scopes=" ".join(normalize_scopes(scopes))))
        return session_id

    def credential_for_session(self, session_id: str) -> Credential | None:
        now = self.clock()
        with self.session() as s:
            found = s.execute(
                select(WebSessionRow, PersonRow)
                .join(PersonRow, WebSessionRow.person_id == PersonRow.id)
                .where(WebSessionRow.session_hash == hash_secret(session_id),
                       WebSessionRow.revoked.is_(False))
            ).one_or_none()
            if found is None:
                return None
            sess, row = found
            if row.disabled or sess.expires_at <= now:
                return None
            scopes = set(sess.scopes.split())
            if not row.is_admin:
                scopes.discard("admin")
            cred = Credential(person=person_of(row), scopes=frozenset(scopes), kind="session")
        self.last_used.note("session", sess.id, sess.last_seen, now)
        return cred

    def end_web_session(self, session_id: str) -> None:
        with self.session() as s, s.begin():
            s.execute(update(WebSessionRow)
                      .where(WebSessionRow.session_hash == hash_secret(session_id))
                      .values(revoked=True))

    def revoke_all(self, person_id: int) -> None:
        """Sign a person out everywhere: every web session and every token."""
        with self.session() as s, s.begin():
            self._revoke_all(s, person_id)

    @staticmethod
    def _revoke_all(s: Session, person_id: int) -> None:
        s.execute(update(TokenRow).where(TokenRow.person_id == person_id).values(revoked=True))
        s.execute(update(WebSessionRow).where(WebSessionRow.person_id == person_id)
                  .values(revoked=True))
