"""The session manager at start-up, and connects that wait in the accelerator line, through
backends that fail (dikte.runtimes.fakes)."""

from __future__ import annotations

import time

import nbformat
import pytest

from dikte.accelerators.model import Device
from dikte.db import Database, RuntimeRecord
from dikte.errors import RuntimeUnavailable
from dikte.runtimes.fakes import FailingBackend
from tests.control.support import MakeManager, MakeNotebook, hear, heard, runtime_rows

T4 = Device("gpu-0", "T4", model="Tesla T4")
PATH = "Notebooks/a.ipynb"


@pytest.mark.parametrize(("status", "reason"), [
    ("running", "It ended while the server was down."),
    ("restarting", "It ended while the server was down."),  # asked to revive; gone all the same
    ("starting", "The server stopped while it was starting."),
])
async def test_reattach_ends_the_record_of_a_runtime_that_is_gone_and_opens_nothing(
        manager: MakeManager, person: int, db: Database, status: str, reason: str) -> None:
    backend = FailingBackend()  # reattach: None, the backend knows no such runtime
    m = manager(backend)
    doc = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    m.drive_for(person).write_notebook(PATH, doc)  # its notebook is there: it could be opened
    db.add_runtime(RuntimeRecord(
        id="r1", person_id=person, notebook_path=PATH, image="fake", backend=backend.name,
        status=status, started_at=time.time() - 60,
        backend_state={"backend": backend.name, "runtime_id": "r1"},
        exec_state={"running": None, "queued": []}))

    await m.reattach_all()

    assert db.live_runtimes() == []
    [row] = runtime_rows(db, person)
    assert (row.status, row.end_reason) == ("ended", reason)
    assert m.notebooks == {} and m.sessions(None) == []
    assert backend.attempts == 0


async def test_a_connect_waiting_for_an_accelerator_starts_when_the_device_is_freed(
        manager: MakeManager, notebook: MakeNotebook, person: int, db: Database) -> None:
    reason = "The T4 node did not boot."
    backend = FailingBackend(reason)
    m = manager(backend, [T4])
    assert m.accelerators.try_allocate("someone-else", "T4") == [T4]
    nb = await notebook(m, person, "a")
    viewer = nb.join()

    link = await m.connect(nb, shape="T4")  # returns at once, in line

    assert (link.status, link.queue_position) == ("queued", 1)
    assert nb.runtime is link and backend.attempts == 0
    assert runtime_rows(db, person) == []  # nothing is on record before it starts
    [told] = heard(viewer)
    assert (told["status"], told["runtime"]["queue_position"]) == ("queued", 1)

    m.accelerators.end("someone-else")
    ended = await hear(viewer, "disconnected")

    assert backend.attempts == 1  # granted the T4, it was started...
    assert ended["message"] == reason
    [row] = runtime_rows(db, person)
    assert (row.id, row.devices, row.end_reason) == (
        link.runtime_id, ["gpu-0"], f"It failed to start: {reason}")
    assert nb.runtime is None
    assert m.accelerators.allocator.free("T4") == [T4]  # ...and its failure gave it back


async def test_disconnecting_a_connect_in_line_leaves_the_line_and_starts_nothing(
        manager: MakeManager, notebook: MakeNotebook, person: int, db: Database) -> None:
    backend = FailingBackend()
    m = manager(backend, [T4])
    m.accelerators.try_allocate("someone-else", "T4")
    nb = await notebook(m, person, "a")
    link = await m.connect(nb, shape="T4")
    assert link.status == "queued"

    await m.disconnect(nb)
    m.accelerators.end("someone-else")

    assert nb.runtime is None and m.accelerators.position(link.runtime_id) is None
    assert m.accelerators.allocator.free("T4") == [T4]  # freed, and granted to nobody
    assert backend.attempts == 0
    assert db.live_runtimes(person) == []


class GrowingCluster(FailingBackend):
    """A cluster backend whose node with a T4 joined after the server listed the accelerators."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.listed = 0

    async def accelerators(self) -> list[Device]:
        self.listed += 1
        return [T4]


async def test_a_connect_for_an_accelerator_a_node_brought_since_start_up_is_not_refused(
        manager: MakeManager, notebook: MakeNotebook, person: int, db: Database) -> None:
    reason = "The T4 node did not boot."
    backend = GrowingCluster(reason)
    m = manager(backend, [])  # listed at start-up: none
    nb = await notebook(m, person, "a")
    viewer = nb.join()

    with pytest.raises(RuntimeUnavailable, match=reason):  # started (and failed): not refused
        await m.connect(nb, shape="T4")
    ended = await hear(viewer, "disconnected")

    assert backend.listed == 1 and backend.attempts == 1
    assert ended["message"] == reason
    [row] = runtime_rows(db, person)
    assert row.devices == ["gpu-0"]
    assert m.accelerators.allocator.free("T4") == [T4]
