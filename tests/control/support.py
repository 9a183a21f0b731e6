"""For the tests here: the types of conftest's factories, and what the tests read back: runtime
rows as the database keeps them (with their end reason, which :class:`~dikte.db.RuntimeRecord`
leaves out) and what a notebook's viewer heard."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select

from dikte.control.manager import SessionManager
from dikte.db import Database
from dikte.db.models import RuntimeRow
from dikte.notebooks.notebook import OpenNotebook
from dikte.notebooks.viewers import Viewer

MakeManager = Callable[..., SessionManager]
"""``manager(backend, devices=())``"""
MakeNotebook = Callable[[SessionManager, int, str], Awaitable[OpenNotebook]]
"""``await notebook(manager, person_id, name)``"""


def runtime_rows(db: Database, person_id: int) -> list[RuntimeRow]:
    """Every runtime record of the person, ended ones included, oldest first."""
    with db.session() as s:
        q = select(RuntimeRow).where(RuntimeRow.person_id == person_id)
        return list(s.scalars(q.order_by(RuntimeRow.started_at)))


def heard(viewer: Viewer) -> list[dict[str, Any]]:
    """The ``runtime`` messages the viewer has been sent so far (taken off its queue)."""
    out = []
    while not viewer.queue.empty():
        message = viewer.queue.get_nowait()
        if message is not None and message.get("type") == "runtime":
            out.append(message)
    return out


async def hear(viewer: Viewer, status: str, timeout: float = 5.0) -> dict[str, Any]:
    """Wait for the next ``runtime`` message of ``status`` (the others are skipped)."""
    async def wait() -> dict[str, Any]:
        while True:
            message = await viewer.queue.get()
            if message is not None and message.get("type") == "runtime" \
                    and message["status"] == status:
                return message

    return await asyncio.wait_for(wait(), timeout)
