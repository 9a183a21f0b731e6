"""The database: open, migrate, and the queries the rest of Dikte uses (plain objects out)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from dikte.db.accounts import SCOPES, Accounts, Person
from dikte.db.last_used import LastUsed
from dikte.db.models import PersonRow, RuntimeRow

__all__ = ["Database", "Person", "RuntimeRecord"]

MIGRATIONS = Path(__file__).parent / "migrations"


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
    shape: str = "standard"
    background: bool = False
    devices: list[str] = field(default_factory=list)


def _runtime(row: RuntimeRow) -> RuntimeRecord:
    return RuntimeRecord(
        id=row.id, person_id=row.person_id, notebook_path=row.notebook_path, image=row.image,
        backend=row.backend, status=row.status, started_at=row.started_at,
        backend_state=dict(row.backend_state), exec_state=dict(row.exec_state),
        shape=row.shape, background=row.background, devices=list(row.devices or []),
    )


class Database(Accounts):
    """Synchronous and short: every query is one small transaction.

    ``clock`` gives "now" for expiry of tokens and web sessions (tests pass their own).
    """

    def __init__(self, url: str, *, clock: Callable[[], float] = time.time) -> None:
        self.url = url
        self.clock = clock
        self.engine: Engine = create_engine(url)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self.last_used = LastUsed(self.write_last_used)

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def close(self) -> None:
        self.last_used.close()
        self.engine.dispose()

    def session(self) -> Session:
        return self._session()

    # people and tokens (the rest is in dikte.db.accounts)

    def ensure_admin(self, tier: str = "free") -> str | None:
        """Create the first admin (of ``tier``) at first start; return its new token (every
        scope) once."""
        with self.session() as s, s.begin():
            if s.scalar(select(PersonRow).where(PersonRow.is_admin)) is not None:
                return None
            name = "admin"
            while s.scalar(select(PersonRow).where(PersonRow.name == name)) is not None:
                name += "_"
            person = PersonRow(name=name, is_admin=True, created_at=self.clock(), tier=tier,
                               disabled=False)
            s.add(person)
            s.flush()
            person_id = person.id
        return self.issue_token(person_id, "first start", SCOPES)[1]

    # runtimes

    def add_runtime(self, rec: RuntimeRecord) -> None:
        with self.session() as s, s.begin():
            s.add(RuntimeRow(
                id=rec.id, person_id=rec.person_id, notebook_path=rec.notebook_path,
                image=rec.image, backend=rec.backend, status=rec.status,
                started_at=rec.started_at, backend_state=rec.backend_state,
                exec_state=rec.exec_state, shape=rec.shape, background=rec.background,
                devices=list(rec.devices),
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
