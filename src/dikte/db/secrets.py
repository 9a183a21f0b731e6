"""People's secrets: stored encrypted, read back only for a notebook granted access.

Values are sealed with AES-256-GCM (the ``cryptography`` package) under a key the caller derives
from the server key for the purpose ``"secrets"``. Each value gets a fresh 96-bit random nonce,
and the associated data names the owner and the secret, so a ciphertext copied into another
person's row, or under another name, does not decrypt. The database holds ``nonce + ciphertext +
tag``; names, times and grants are plain.

A grant lets one notebook (a drive path, as its runtime records it) read one secret, like
Colab's per-notebook "Notebook access" toggle. Deleting a secret deletes its grants.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from dikte.db.models import SecretGrantRow, SecretRow
from dikte.errors import DikteError, QuotaExceeded

NONCE_BYTES = 12
MAX_SECRETS = 500
"""Secrets one person may keep."""
MAX_GRANTS = 1000
"""Notebooks one secret may be granted to."""


@dataclass(frozen=True)
class SecretInfo:
    """What a listing shows of a secret: never its value."""

    name: str
    created_at: float
    updated_at: float
    notebooks: tuple[str, ...]


@dataclass(frozen=True)
class SecretRead:
    """The answer to a runtime asking for a secret, as Colab's ``GetSecret`` reply has it."""

    exists: bool
    access: bool
    value: str | None = None


class SecretBox:
    """AES-256-GCM sealing bound to (person, name)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the secrets key must be 32 bytes")
        self._aead = AESGCM(key)

    @staticmethod
    def _context(person_id: int, name: str) -> bytes:
        return f"dikte-secret\0{person_id}\0{name}".encode()

    def seal(self, person_id: int, name: str, value: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, value.encode(), self._context(person_id, name))

    def open(self, person_id: int, name: str, blob: bytes) -> str:
        try:
            plain = self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:],
                                       self._context(person_id, name))
        except InvalidTag:
            raise DikteError(
                f"The secret {name} cannot be decrypted: the server's key changed since it was "
                "stored (see server.key in the data directory). Set its value again.",
                code="secret_unreadable", status=500,
                log_message=f"secret {name!r} of person {person_id} failed to decrypt") from None
        return plain.decode()


def notebook_key(path: str) -> str:
    return hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()


class SecretStore:
    """Queries on the secrets tables; plain objects out. ``session`` opens a database session."""

    def __init__(self, session: Callable[[], Session], box: SecretBox, *,
                 clock: Callable[[], float] = time.time) -> None:
        self._session = session
        self._box = box
        self._clock = clock

    def listing(self, person_id: int) -> list[SecretInfo]:
        with self._session() as s:
            rows = s.scalars(select(SecretRow).where(SecretRow.person_id == person_id)
                             .order_by(SecretRow.name)).all()
            grants = self._grants(s, [r.id for r in rows])
            return [_info(r, grants.get(r.id, ())) for r in rows]

    def get(self, person_id: int, name: str) -> SecretInfo | None:
        with self._session() as s:
            row = self._row(s, person_id, name)
            if row is None:
                return None
            return _info(row, self._grants(s, [row.id]).get(row.id, ()))

    def put(self, person_id: int, name: str, value: str) -> tuple[SecretInfo, bool]:
        """Create the secret or replace its value; ``True`` when it is new. Grants stay."""
        sealed = self._box.seal(person_id, name, value)
        now = self._clock()
        with self._session() as s, s.begin():
            row = self._row(s, person_id, name)
            created = row is None
            if row is None:
                count = s.scalar(select(func.count()).select_from(SecretRow)
                                 .where(SecretRow.person_id == person_id)) or 0
                if count >= MAX_SECRETS:
                    raise QuotaExceeded(
                        f"You have {count} secrets, the most one person may keep. Delete one "
                        "you no longer need first.", code="too_many_secrets")
                row = SecretRow(person_id=person_id, name=name, ciphertext=sealed,
                                created_at=now, updated_at=now)
                s.add(row)
                s.flush()
            else:
                row.ciphertext = sealed
                row.updated_at = now
            info = _info(row, self._grants(s, [row.id]).get(row.id, ()))
        return info, created

    def delete(self, person_id: int, name: str) -> bool:
        with self._session() as s, s.begin():
            row = self._row(s, person_id, name)
            if row is None:
                return False
            s.execute(delete(SecretGrantRow).where(SecretGrantRow.secret_id == row.id))
            s.delete(row)
            return True

    def set_access(self, person_id: int, name: str, notebook: str,
                   granted: bool) -> SecretInfo | None:
        """Grant or revoke one notebook's access; ``None`` when there is no such secret."""
        key = notebook_key(notebook)
        with self._session() as s, s.begin():
            row = self._row(s, person_id, name)
            if row is None:
                return None
            existing = s.scalar(select(SecretGrantRow).where(
                SecretGrantRow.secret_id == row.id, SecretGrantRow.notebook_key == key))
            if granted and existing is None:
                count = s.scalar(select(func.count()).select_from(SecretGrantRow)
                                 .where(SecretGrantRow.secret_id == row.id)) or 0
                if count >= MAX_GRANTS:
                    raise QuotaExceeded(
                        f"The secret {name} is granted to {count} notebooks, the most it may "
                        "be. Revoke some first.", code="too_many_grants")
                s.add(SecretGrantRow(secret_id=row.id, notebook_path=notebook, notebook_key=key,
                                     created_at=self._clock()))
            elif not granted and existing is not None:
                s.delete(existing)
            s.flush()
            return _info(row, self._grants(s, [row.id]).get(row.id, ()))

    def read(self, person_id: int, name: str, notebook: str) -> SecretRead:
        """The value for a runtime of ``notebook``, if the secret exists and is granted to it."""
        with self._session() as s:
            row = self._row(s, person_id, name)
            if row is None:
                return SecretRead(exists=False, access=False)
            grant = s.scalar(select(SecretGrantRow.id).where(
                SecretGrantRow.secret_id == row.id,
                SecretGrantRow.notebook_key == notebook_key(notebook)))
            if grant is None:
                return SecretRead(exists=True, access=False)
            blob = row.ciphertext
        return SecretRead(exists=True, access=True, value=self._box.open(person_id, name, blob))

    @staticmethod
    def _row(s: Session, person_id: int, name: str) -> SecretRow | None:
        return s.scalar(select(SecretRow).where(SecretRow.person_id == person_id,
                                                SecretRow.name == name))

    @staticmethod
    def _grants(s: Session, secret_ids: list[int]) -> dict[int, tuple[str, ...]]:
        if not secret_ids:
            return {}
        found: dict[int, list[str]] = {}
        q = (select(SecretGrantRow.secret_id, SecretGrantRow.notebook_path)
             .where(SecretGrantRow.secret_id.in_(secret_ids))
             .order_by(SecretGrantRow.notebook_path))
        for secret_id, path in s.execute(q):
            found.setdefault(secret_id, []).append(path)
        return {k: tuple(v) for k, v in found.items()}


def _info(row: SecretRow, notebooks: tuple[str, ...]) -> SecretInfo:
    return SecretInfo(name=row.name, created_at=row.created_at, updated_at=row.updated_at,
                      notebooks=notebooks)


def _under(path: str) -> Any:
    """Grants of ``path`` itself or of anything below it (a folder)."""
    prefix = path.rstrip("/") + "/"
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(SecretGrantRow.notebook_path == path,
               SecretGrantRow.notebook_path.like(escaped + "%", escape="\\"))


def _persons_grants(s: Session, person_id: int, path: str) -> list[SecretGrantRow]:
    mine = select(SecretRow.id).where(SecretRow.person_id == person_id)
    return list(s.scalars(select(SecretGrantRow).where(
        SecretGrantRow.secret_id.in_(mine), _under(path))))


def move_grants(session: Callable[[], Session], person_id: int, src: str, dst: str) -> int:
    """A notebook (or folder) moved in the drive: its secret grants follow it."""
    with session() as s, s.begin():
        rows = _persons_grants(s, person_id, src)
        for row in rows:
            row.notebook_path = dst + row.notebook_path[len(src):]
            row.notebook_key = notebook_key(row.notebook_path)
        return len(rows)


def drop_grants(session: Callable[[], Session], person_id: int, path: str) -> int:
    """A notebook (or folder) was deleted: a later notebook at that path inherits nothing."""
    with session() as s, s.begin():
        rows = _persons_grants(s, person_id, path)
        for row in rows:
            s.delete(row)
        return len(rows)
