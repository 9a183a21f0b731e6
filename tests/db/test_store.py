"""The database layer on SQLite and PostgreSQL: migrations, tokens, runtimes."""

from __future__ import annotations

import time

from sqlalchemy import inspect

from dikte.db import Database, RuntimeRecord


def test_migrations_create_the_schema_and_are_idempotent(db: Database) -> None:
    tables = set(inspect(db.engine).get_table_names())
    assert {"people", "tokens", "runtimes", "alembic_version"} <= tables
    db.migrate()  # a second start changes nothing
    assert set(inspect(db.engine).get_table_names()) == tables


def test_first_admin_and_tokens(db: Database) -> None:
    token = db.ensure_admin()
    assert token is not None and token.startswith("dk_")
    assert db.ensure_admin() is None  # printed once, at first start only
    person = db.person_for_token(token)
    assert person is not None and person.is_admin and person.name == "admin"
    assert db.person_for_token(token + "x") is None
    second = db.create_token(person.id, "laptop")
    assert second != token and db.person_for_token(second) == person


def test_runtime_records_round_trip(db: Database) -> None:
    db.ensure_admin()
    rec = RuntimeRecord(id="abc123def456", person_id=1, notebook_path="Notebooks/a.ipynb",
                        image="default", backend="local", status="running",
                        started_at=time.time(), backend_state={"pid": 42, "dirs": ["/x"]},
                        exec_state={"running": None, "queued": []})
    db.add_runtime(rec)
    assert db.live_runtimes() == [rec]
    db.update_runtime(rec.id, exec_state={"running": {"cell_id": "c", "msg_id": "m"},
                                          "queued": ["d"]})
    got = db.runtime(rec.id)
    assert got is not None and got.exec_state["queued"] == ["d"]
    assert db.live_runtimes(person_id=2) == []
    db.end_runtime(rec.id, "done")
    assert db.live_runtimes() == []
    ended = db.runtime(rec.id)
    assert ended is not None and ended.status == "ended"
