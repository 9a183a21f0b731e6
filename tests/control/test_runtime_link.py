"""One runtime's start, as the control layer lives it through a backend that fails or hangs
(dikte.runtimes.fakes): what the person hears, what the notebook holds, what the database keeps
and which accelerator is held afterwards."""

from __future__ import annotations

import asyncio

import pytest

from dikte.accelerators.model import Device
from dikte.db import Database
from dikte.errors import DikteError, RuntimeUnavailable
from dikte.runtimes.fakes import FailingBackend, NeverStartingBackend
from tests.control.support import MakeManager, MakeNotebook, heard, runtime_rows

T4 = Device("gpu-0", "T4", model="Tesla T4")


async def test_a_start_that_fails_says_the_backends_sentence_and_leaves_nothing_held(
        manager: MakeManager, notebook: MakeNotebook, person: int, db: Database) -> None:
    reason = "No machine with a T4 is up right now."
    backend = FailingBackend(reason)
    m = manager(backend, [T4])
    nb = await notebook(m, person, "a")
    viewer = nb.join()

    with pytest.raises(RuntimeUnavailable) as failed:
        await m.connect(nb, shape="T4")

    assert failed.value.message == reason
    assert backend.attempts == 1
    assert nb.runtime is None and m.sessions(person) == []
    [row] = runtime_rows(db, person)
    assert (row.status, row.end_reason) == ("ended", f"It failed to start: {reason}")
    assert row.devices == ["gpu-0"]  # it was granted the T4 for its start...
    assert m.accelerators.held_by(row.id) == []  # ...and the T4 is free again
    assert m.accelerators.allocator.free("T4") == [T4]
    assert heard(viewer)[-1] == {"type": "runtime", "status": "disconnected", "runtime": None,
                                 "message": reason}


async def test_a_start_that_never_finishes_is_ended_by_disconnect(
        manager: MakeManager, notebook: MakeNotebook, person: int, db: Database) -> None:
    backend = NeverStartingBackend()
    m = manager(backend)
    nb = await notebook(m, person, "a")
    connecting = asyncio.create_task(m.connect(nb))
    try:
        await backend.started.wait()
        [starting] = db.live_runtimes(person)
        assert starting.status == "starting"  # intent on record before the backend is asked

        await m.disconnect(nb)

        assert nb.runtime is None and m.sessions(person) == []
        assert db.live_runtimes(person) == []
        [row] = runtime_rows(db, person)
        assert (row.id, row.end_reason) == (starting.id, "You disconnected it.")
    finally:
        connecting.cancel()
        await asyncio.gather(connecting, return_exceptions=True)


async def test_disconnect_cancels_a_start_that_never_finishes(
        manager: MakeManager, notebook: MakeNotebook, person: int) -> None:
    backend = NeverStartingBackend()
    m = manager(backend)
    nb = await notebook(m, person, "a")
    connecting = asyncio.create_task(m.connect(nb))
    try:
        await backend.started.wait()
        await m.disconnect(nb)
        # a start that never finishes must not hold the connect: disconnect cancels it
        await asyncio.wait({connecting}, timeout=60)
        assert connecting.done(), "connect still waits for a start nobody wants"
        assert backend.cancelled == 1
        with pytest.raises(DikteError) as ended:
            connecting.result()
        assert ended.value.code == "disconnected_while_starting"
    finally:
        connecting.cancel()
        await asyncio.gather(connecting, return_exceptions=True)
