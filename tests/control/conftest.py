"""A :class:`~dikte.control.manager.SessionManager` without a server, driven through the
behavioural fakes of :mod:`dikte.runtimes.fakes`: no kernel, no sandbox, no subprocess.

- ``settings``: settings of a temporary data dir; one runtime image, ``fake``, that is an
  environment "brought" by the admin (this interpreter: it exists, so it counts as ready and
  nothing is built); no GPU discovery.
- ``db``: a migrated SQLite database in that data dir.
- ``person``: the id of someone of the ``free`` tier (one standard and one T4 session).
- ``manager``: a factory ``manager(backend, devices=())`` for a SessionManager over ``backend``
  with ``devices`` as the server's accelerators; every manager it made is closed after the test.
- ``notebook``: a factory ``await notebook(manager, person_id, name)``: a one-cell notebook
  written to the person's drive and opened.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import nbformat
import pytest

from dikte.accelerators.model import Device
from dikte.config import Settings, load_settings
from dikte.control.manager import SessionManager
from dikte.db import Database
from dikte.drive import Drive
from dikte.notebooks.notebook import OpenNotebook
from dikte.runtimes.base import RuntimeBackend
from tests.control.support import MakeManager, MakeNotebook


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(None, environ={}, data_dir=tmp_path / "data",
                         images={"fake": {"python": sys.executable}}, default_image="fake",
                         discover_gpus=False)


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(f"sqlite:///{settings.data_dir / 'dikte.db'}")
    database.migrate()
    yield database
    database.close()


@pytest.fixture
def person(db: Database) -> int:
    return db.add_person("ada", tier="free").id


@pytest.fixture
async def manager(settings: Settings, db: Database,
                  tmp_path: Path) -> AsyncIterator[MakeManager]:
    drives: dict[int, Drive] = {}
    made: list[SessionManager] = []

    def drive_for(person_id: int) -> Drive:
        if person_id not in drives:
            drives[person_id] = Drive(tmp_path / "drives" / str(person_id))
        return drives[person_id]

    def make(backend: RuntimeBackend, devices: Sequence[Device] = ()) -> SessionManager:
        m = SessionManager(settings, db, backend, drive_for, accelerators=list(devices))
        made.append(m)
        return m

    yield make
    for m in made:
        await m.close()


@pytest.fixture
def notebook() -> MakeNotebook:
    async def make(manager: SessionManager, person_id: int, name: str) -> OpenNotebook:
        doc = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
        doc.cells = [nbformat.v4.new_code_cell("print(1)")]  # type: ignore[no-untyped-call]
        path = f"Notebooks/{name}.ipynb"
        manager.drive_for(person_id).write_notebook(path, doc)
        return await manager.open(person_id, path)

    return make
