"""Database fixtures.

- ``db``: a migrated ``Database``, once on SQLite and once on a fresh PostgreSQL database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dikte.db import Database


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'dikte.db'}"
    else:
        url = request.getfixturevalue("postgres_db")
    database = Database(url)
    database.migrate()
    yield database
    database.close()
