"""The reaper's time limits as the manager applies them, with the clock in the test's hands:
``Enforcer.check(now)`` is called with the moments that matter, so a 3-second idle timeout or a
30-second lifetime costs no waiting. Runtimes are real kernels (the unsandboxed backend: this
is about the control layer's decisions, not the sandbox); the reaper's own loop is not running
(tests/api/test_tiers.py has the reaper in a real server, timers and all).

Each test's tier: idle timeout 30 s, lifetime 100 s, disconnect grace 20 s, warnings 10 s
before a stop."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from dikte.config import Settings, load_settings
from dikte.control.manager import SessionManager
from dikte.control.runtime_link import link_of
from dikte.db import Database
from dikte.notebooks.notebook import OpenNotebook
from dikte.notebooks.viewers import Viewer
from dikte.runtimes.unsandboxed import UnsandboxedBackend
from tests.control.support import MakeManager, MakeNotebook, runtime_rows

TIER = {"name": "free", "idle_timeout_s": 30, "max_lifetime_s": 100, "disconnect_grace_s": 20,
        "warn_before_stop_s": 10, "daily_accelerator_hours": 0, "drive_quota": "1GiB",
        "background_execution": True, "background_sessions": 1,
        "shapes": {"standard": {"max_sessions": 2, "memory": "1GiB", "disk": "1GiB"}}}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(None, environ={}, data_dir=tmp_path / "data",
                         images={"fake": {"python": sys.executable}}, default_image="fake",
                         discover_gpus=False, tiers={"free": TIER})


@pytest.fixture
async def make(manager: MakeManager, settings: Settings,
               tmp_path: Path) -> AsyncIterator[SessionManager]:
    """A manager over real kernels; its drives are where the ``manager`` fixture keeps them.
    Every runtime still connected is disconnected after the test (closing a manager leaves
    runtimes running, by design)."""
    m = manager(UnsandboxedBackend(settings.data_dir, drives=tmp_path / "drives",
                                   images={"fake": sys.executable}))
    yield m
    for nb in list(m.notebooks.values()):
        if link_of(nb) is not None:
            await m.disconnect(nb)


def notices(viewer: Viewer) -> list[dict[str, Any]]:
    """The notices and runtime messages the viewer has been sent so far."""
    out = []
    while not viewer.queue.empty():
        message = viewer.queue.get_nowait()
        if message is not None and message.get("type") in ("notice", "runtime"):
            out.append(message)
    return out


def codes(viewer: Viewer) -> list[str]:
    return [m.get("code") or m["status"] for m in notices(viewer)]


async def connected(m: SessionManager, nb: OpenNotebook) -> float:
    """Connects the notebook; when its runtime started."""
    await m.connect(nb)
    link = link_of(nb)
    assert link is not None and link.status == "connected"
    return link.started_at


async def opened(m: SessionManager, person: int, name: str, source: str) -> OpenNotebook:
    """A notebook of one code cell holding ``source``, written to the drive and opened."""
    doc = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    doc.cells = [nbformat.v4.new_code_cell(source)]  # type: ignore[no-untyped-call]
    path = f"Notebooks/{name}.ipynb"
    m.drive_for(person).write_notebook(path, doc)
    return await m.open(person, path)


def end_reason(db: Database, person: int) -> str | None:
    (row,) = runtime_rows(db, person)
    return row.end_reason


async def test_an_idle_runtime_is_warned_then_stopped_and_activity_restarts_the_clock(
        make: SessionManager, notebook: MakeNotebook, person: int, db: Database) -> None:
    nb = await notebook(make, person, "idle")
    viewer = nb.join()
    await connected(make, nb)
    notices(viewer)  # the runtime's start
    t0 = nb.last_activity

    await make.enforcer.check(t0 + 19)
    assert codes(viewer) == []
    await make.enforcer.check(t0 + 21)  # within 10 s of the timeout
    (warning,) = notices(viewer)
    assert warning["code"] == "idle_timeout" and warning["at"] == t0 + 31
    assert warning["message"].startswith("Are you still there? This runtime will disconnect")

    nb.last_activity = t0 + 25  # "I'm still here" (the WebSocket's activity message)
    await make.enforcer.check(t0 + 31)
    assert codes(viewer) == [] and link_of(nb) is not None
    await make.enforcer.check(t0 + 46)  # warned again, for the new deadline
    (again,) = notices(viewer)
    assert again["code"] == "idle_timeout" and again["at"] == t0 + 56

    await make.enforcer.check(t0 + 56)
    assert link_of(nb) is None or link_of(nb).status != "connected"  # type: ignore[union-attr]
    gone = [m for m in notices(viewer) if m["type"] == "runtime"]
    assert gone[-1]["status"] == "disconnected"
    assert gone[-1]["message"] == "Runtime disconnected: idle timeout of 30 s reached."
    assert end_reason(db, person) == "Runtime disconnected: idle timeout of 30 s reached."


async def test_a_busy_runtime_is_never_idle_but_its_lifetime_still_ends_it(
        make: SessionManager, person: int) -> None:
    nb = await opened(make, person, "busy", "import time\nwhile True: time.sleep(0.2)")
    viewer = nb.join()
    started = await connected(make, nb)
    await make.run(nb, [nb.doc.cells[0]["id"]])
    for _ in range(1200):  # until the kernel has the cell (a minute at most)
        if nb.running is not None:
            break
        await asyncio.sleep(0.05)
    assert nb.running is not None
    notices(viewer)  # what running the cell said

    await make.enforcer.check(nb.last_activity + 60)  # twice the idle timeout: busy, so nothing
    assert codes(viewer) == []
    await make.enforcer.check(started + 91)
    (warning,) = notices(viewer)
    assert warning["code"] == "max_lifetime" and "maximum lifetime of 100 s" in warning["message"]
    await make.enforcer.check(started + 101)
    (gone,) = [m for m in notices(viewer) if m["type"] == "runtime"][-1:]
    assert gone["message"] == "Runtime disconnected: maximum lifetime of 100 s reached."


async def test_no_viewer_for_the_grace_stops_a_runtime_unless_it_runs_in_the_background(
        make: SessionManager, notebook: MakeNotebook, person: int) -> None:
    watched, background = await notebook(make, person, "a"), await notebook(make, person, "b")
    viewer = watched.join()
    await connected(make, watched)
    await make.connect(background, background=True)
    watched.leave(viewer)
    left = watched.last_viewer_left_at
    assert left is not None

    await make.enforcer.check(left + 11)  # warned: nobody to hear it, the kernel is told
    assert link_of(watched) is not None and "disconnect_grace" in link_of(  # type: ignore[union-attr]
        watched).warned_at
    await make.enforcer.check(left + 21)
    assert link_of(watched) is None or link_of(watched).status != "connected"  # type: ignore[union-attr]
    link = link_of(background)
    assert link is not None and link.status == "connected" and link.background
