"""The database: open, migrate, and the queries the rest of Dikte uses (plain objects out)."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from dikte.db.models import PersonRow, RuntimeRow, TokenRow

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    is_admin: bool


@dataclass(frozen=True)
class RuntimeRecord:
    id: str
    person_id: int
    notebook_path: str
    image: str
    backend: str
    status: str
    started_at: float
    backend_state: dict[str, Any]
    exec_state: dict[str, Any]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _person(row: PersonRow) -> Person:
    return Person(id=row.id, name=row.name, is_admin=row.is_admin)


def _runtime(row: RuntimeRow) -> RuntimeRecord:
    return RuntimeRecord(
        id=row.id, person_id=row.person_id, notebook_path=row.notebook_path, image=row.image,
        backend=row.backend, status=row.status, started_at=row.started_at,
        backend_state=dict(row.backend_state), exec_state=dict(row.exec_state),
    )


class Database:
    """Synchronous and short: every query is one small transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def close(self) -> None:
        self.engine.dispose()

    def session(self) -> Session:
        return self._session()

    # people and tokens

    def ensure_admin(self) -> str | None:
        """Create the first admin at first start; return its new token once, else None."""
        with self.session() as s, s.begin():
            if s.scalar(select(PersonRow).where(PersonRow.is_admin)) is not None:
                return None
            person = PersonRow(name="admin", is_admin=True, created_at=time.time())
            s.add(person)
            s.flush()
            token = "dk_" + secrets.token_urlsafe(32)
            s.add(TokenRow(person_id=person.id, token_hash=hash_token(token), name="first start",
                           created_at=time.time()))
            return token

    def create_token(self, person_id: int, name: str) -> str:
        token = "dk_" + secrets.token_urlsafe(32)
        with self.session() as s, s.begin():
            s.add(TokenRow(person_id=person_id, token_hash=hash_token(token), name=name,
                           created_at=time.time()))
        return token

    def person_for_token(self, token: str) -> Person | None:
        with self.session() as s:
            row = s.execute(
                select(PersonRow).join(TokenRow, TokenRow.person_id == PersonRow.id).where(
                    TokenRow.token_hash == hash_token(token), TokenRow.revoked.is_(False))
            ).scalar_one_or_none()
            return _person(row) if row else None

    def person(self, person_id: int) -> Person | None:
        with self.session() as s:
            row = s.get(PersonRow, person_id)
            return _person(row) if row else None

    # runtimes

    def add_runtime(self, rec: RuntimeRecord) -> None:
        with self.session() as s, s.begin():
            s.add(RuntimeRow(
                id=rec.id, person_id=rec.person_id, notebook_path=rec.notebook_path,
                image=rec.image, backend=rec.backend, status=rec.status,
                started_at=rec.started_at, backend_state=rec.backend_state,
                exec_state=rec.exec_state,
            ))

    def update_runtime(self, runtime_id: str, **fields: Any) -> None:
        with self.session() as s, s.begin():
            row = s.get(RuntimeRow, runtime_id)
            if row is not None:
                for key, value in fields.items():
                    setattr(row, key, value)

    def end_runtime(self, runtime_id: str, reason: str) -> None:
        self.update_runtime(runtime_id, status="ended", ended_at=time.time(), end_reason=reason)

    def live_runtimes(self, person_id: int | None = None) -> list[RuntimeRecord]:
        with self.session() as s:
            q = select(RuntimeRow).where(RuntimeRow.status != "ended")
            if person_id is not None:
                q = q.where(RuntimeRow.person_id == person_id)
            return [_runtime(r) for r in s.scalars(q.order_by(RuntimeRow.started_at))]

    def runtime(self, runtime_id: str) -> RuntimeRecord | None:
        with self.session() as s:
            row = s.get(RuntimeRow, runtime_id)
            return _runtime(row) if row else None


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL: a crash of Dikte loses nothing; only a power cut may lose the last commits
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
