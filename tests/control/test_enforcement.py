"""Admission as the manager applies it: a connect beyond the tier's limit is refused with the
limit named, before the backend is asked for anything (dikte.runtimes.fakes counts its starts)."""

from __future__ import annotations

import asyncio

import pytest

from dikte.accelerators.model import Device
from dikte.db import Database
from dikte.errors import QuotaExceeded
from dikte.runtimes.fakes import FailingBackend, NeverStartingBackend
from tests.control.support import MakeManager, MakeNotebook


async def test_a_connect_beyond_the_session_limit_is_refused_before_anything_starts(
        manager: MakeManager, notebook: MakeNotebook, person: int, db: Database) -> None:
    backend = NeverStartingBackend()
    m = manager(backend)
    first, second = await notebook(m, person, "a"), await notebook(m, person, "b")
    starting = asyncio.create_task(m.connect(first))  # holds the free tier's one session
    try:
        await backend.started.wait()
        backend.started.clear()  # set again by any start from here on

        # bounded: a connect let through would wait on the never-starting backend
        with pytest.raises(QuotaExceeded) as refused:
            await asyncio.wait_for(m.connect(second), 5)
        cell = second.doc.cells[0]["id"]
        with pytest.raises(QuotaExceeded):  # running a cell connects too: refused the same
            await m.run(second, [cell])

        assert refused.value.code == "session_limit"
        assert refused.value.message == ("You have 1 of 1 standard sessions. Terminate one in "
                                         "Manage sessions, or wait.")
        assert not backend.started.is_set()
        assert second.runtime is None and list(second.queue) == []  # the cell was un-queued
        assert [r.notebook_path for r in db.live_runtimes(person)] == ["Notebooks/a.ipynb"]
    finally:
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)


async def test_a_connect_waiting_in_the_accelerator_line_counts_against_the_limit(
        manager: MakeManager, notebook: MakeNotebook, person: int) -> None:
    backend = FailingBackend()
    m = manager(backend, [Device("gpu-0", "T4")])
    m.accelerators.try_allocate("someone-else", "T4")
    first, second = await notebook(m, person, "a"), await notebook(m, person, "b")
    assert (await m.connect(first, shape="T4")).status == "queued"

    with pytest.raises(QuotaExceeded) as refused:
        await m.connect(second, shape="T4")

    assert refused.value.code == "session_limit"
    assert refused.value.message == ("You have 1 of 1 T4 sessions. Terminate one in Manage "
                                     "sessions, or wait.")
    assert backend.attempts == 0 and second.runtime is None
    assert m.accelerators.queue.position(first.runtime.runtime_id) == 1  # type: ignore[union-attr]
    assert len(m.accelerators.queue.ordered("T4")) == 1
