"""Usage queries: a person's runtimes as start/stop intervals (the ledger's events)."""

from __future__ import annotations

from sqlalchemy import or_, select

from dikte.db.models import RuntimeRow
from dikte.db.store import Database


def runtime_intervals(db: Database, person_id: int,
                      since: float) -> list[tuple[str, str, bool, float, float | None]]:
    """(runtime id, shape, background, start, stop or None while running) of every runtime of
    the person alive after ``since``."""
    with db.session() as s:
        rows = s.execute(
            select(RuntimeRow.id, RuntimeRow.shape, RuntimeRow.background, RuntimeRow.started_at,
                   RuntimeRow.ended_at).where(
                RuntimeRow.person_id == person_id,
                or_(RuntimeRow.ended_at.is_(None), RuntimeRow.ended_at > since))
        ).all()
    return [(r[0], str(r[1]), bool(r[2]), float(r[3]), None if r[4] is None else float(r[4]))
            for r in rows]
