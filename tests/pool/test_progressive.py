"""A burst of connects through a real sandbox backend is served progressively: starts take
turns (control/starts.py), so the first runtimes are ready while later ones still wait, instead
of every answer coming back together; and the event loop keeps serving meanwhile."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import nbformat

from dikte.config import load_settings
from dikte.control.manager import SessionManager
from dikte.db import Database
from dikte.drive import Drive
from dikte.runtimes.local import LocalBackend
from tests.notebooks.test_loop_stalls import Ticker
from tests.runtimes.runtime_helpers import UID_BASE

PEOPLE = 6


async def test_a_burst_of_connects_is_answered_as_runtimes_become_ready(
        tmp_path: Path, sandbox_host: None, runtime_image: Path) -> None:
    settings = load_settings(None, environ={}, data_dir=tmp_path / "data",
                             images={"fake": {"python": sys.executable}}, default_image="fake",
                             discover_gpus=False, runtime_start_concurrency=2, runtime_pool=0,
                             sandbox_uid_base=UID_BASE, runtime_memory=1 << 30)
    settings.data_dir.mkdir(parents=True)
    db = Database(f"sqlite:///{settings.data_dir / 'dikte.db'}")
    db.migrate()
    backend = LocalBackend(settings.data_dir, sandbox_uid_base=UID_BASE,
                           images={"fake": str(runtime_image)})
    manager = SessionManager(settings, db, backend,
                             lambda pid: Drive(settings.data_dir / "drives" / str(pid)))
    try:
        notebooks = []
        for i in range(PEOPLE):
            person = db.add_person(f"p{i}", tier="free").id
            doc = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
            manager.drive_for(person).write_notebook("Notebooks/a.ipynb", doc)
            notebooks.append(await manager.open(person, "Notebooks/a.ipynb"))
        waiting_when_answered: list[int] = []

        async def connect(nb: object) -> None:
            await manager.connect(nb)  # type: ignore[arg-type]
            waiting_when_answered.append(manager.starts.waiting)

        async with Ticker() as ticker:
            await asyncio.gather(*(connect(nb) for nb in notebooks))

        assert all(nb.runtime is not None and nb.runtime.status == "connected"
                   for nb in notebooks)
        # the first answers went out while other starts still waited their turn
        assert waiting_when_answered[0] > 0
        assert waiting_when_answered[-1] == 0
        assert ticker.longest < 2.0  # generous: the loop never froze for the burst
    finally:
        for nb in notebooks:
            await manager.disconnect(nb)
        await manager.close()
        db.close()
