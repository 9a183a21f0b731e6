"""Usage queries: a person's runtimes as start/stop intervals (the ledger's events)."""

from __future__ import annotations

from sqlalchemy import or_, select

from dikte.db.models import RuntimeRow
from dikte.db.store import Database


def runtime_intervals(db: Database, person_id: int,
                      since: float) -> list[tuple[str, float, float | None]]:
    """(runtime id, start, stop or None while running) of every runtime alive after ``since``."""
    with db.session() as s:
        rows = s.execute(
            select(RuntimeRow.id, RuntimeRow.started_at, RuntimeRow.ended_at).where(
                RuntimeRow.person_id == person_id,
                or_(RuntimeRow.ended_at.is_(None), RuntimeRow.ended_at > since))
        ).all()
    return [(r[0], float(r[1]), None if r[2] is None else float(r[2])) for r in rows]
