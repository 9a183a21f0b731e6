"""Invitations and sign-in failures in the database, on SQLite and PostgreSQL, with a moved clock."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from dikte.db import Database
from dikte.db.invitations import Invitations
from dikte.db.sign_ins import SignInFailures
from dikte.errors import Conflict, DikteError, NotFound

DAY = 86400.0


def test_migration_0005_adds_the_tables(db: Database) -> None:
    tables = set(inspect(db.engine).get_table_names())
    assert {"invitations", "sign_in_failures"} <= tables
    indexes = {i["name"] for i in inspect(db.engine).get_indexes("sign_in_failures")}
    assert {"ix_sign_in_failures_key_hash", "ix_sign_in_failures_at"} <= indexes


def test_an_invitation_is_used_once_and_then_refused(db: Database) -> None:
    now = [1_000_000.0]
    store = Invitations(db.session, clock=lambda: now[0])
    admin = db.add_person("boss", is_admin=True)
    inv, code = store.invite("newcomer", tier="pro", is_admin=False, invited_by=admin.id,
                             lifetime=7 * DAY)
    assert inv.status == "pending" and inv.invited_by == "boss" and inv.expires_at == now[0] + 7 * DAY
    assert store.find(code).name == "newcomer"
    now[0] += 6 * DAY
    person = store.accept(code, "a fine password")
    assert (person.name, person.tier, person.is_admin, person.has_password) == (
        "newcomer", "pro", False, True)
    assert db.check_password("newcomer", "a fine password") == person
    with pytest.raises(DikteError) as refused:
        store.accept(code, "again and again")
    assert refused.value.status == 410 and refused.value.code == "invitation_used"
    (listed,) = store.listing()
    assert listed.status == "used" and listed.used_at == now[0]
    with pytest.raises(Conflict):
        store.revoke(listed.id)


def test_expiry_revocation_and_replacement(db: Database) -> None:
    now = [1_000_000.0]
    store = Invitations(db.session, clock=lambda: now[0])
    _, late = store.invite("late", tier="free", is_admin=False, invited_by=None, lifetime=DAY)
    first, replaced = store.invite("twice", tier="free", is_admin=False, invited_by=None,
                                   lifetime=DAY)
    _, current = store.invite("twice", tier="free", is_admin=True, invited_by=None, lifetime=DAY)
    with pytest.raises(DikteError) as refused:
        store.find(replaced)
    assert refused.value.code == "invitation_revoked"
    assert store.find(current).name == "twice"
    now[0] += DAY  # the moment it expires
    for code in (late, current):
        with pytest.raises(DikteError) as refused:
            store.accept(code, "a fine password")
        assert refused.value.code == "invitation_expired" and "1970-01-13" in refused.value.message
    assert db.person_by_name("late") is None and db.person_by_name("twice") is None
    statuses = {(i.name, i.is_admin): i.status for i in store.listing()}
    assert statuses == {("late", False): "expired", ("twice", False): "revoked",
                        ("twice", True): "expired"}
    assert store.revoke(first.id).status == "revoked"  # withdrawing twice changes nothing
    with pytest.raises(NotFound):
        store.revoke(999_999)
    with pytest.raises(NotFound):
        store.find("no such code")


def test_a_name_taken_before_or_after_inviting_is_refused(db: Database) -> None:
    store = Invitations(db.session, clock=lambda: 1_000_000.0)
    db.add_person("taken")
    with pytest.raises(Conflict):
        store.invite("taken", tier="free", is_admin=False, invited_by=None, lifetime=DAY)
    _, code = store.invite("raced", tier="free", is_admin=False, invited_by=None, lifetime=DAY)
    db.add_person("raced")  # an administrator added them by hand meanwhile
    with pytest.raises(Conflict) as refused:
        store.accept(code, "a fine password")
    assert refused.value.code == "name_taken"
    assert store.find(code).status == "pending"  # nothing was used up


def test_sign_in_failures_are_counted_per_key_and_forgotten(db: Database) -> None:
    now = [1_000_000.0]
    log = SignInFailures(db.session, clock=lambda: now[0])
    for _ in range(3):
        log.add(["name:ann", "addr:1.2.3.4"], forget_before=now[0] - 300)
        now[0] += 10
    log.add(["name:bob"], forget_before=now[0] - 300)
    recent = log.recent(["name:ann", "addr:1.2.3.4", "name:bob", "name:cid"], since=now[0] - 300)
    assert {k: (f.count, f.oldest) for k, f in recent.items()} == {
        "name:ann": (3, 1_000_000.0), "addr:1.2.3.4": (3, 1_000_000.0), "name:bob": (1, now[0])}
    assert log.recent(["name:ann"], since=1_000_005.0)["name:ann"].count == 2
    log.clear(["name:ann"])
    assert set(log.recent(["name:ann", "addr:1.2.3.4"], since=0)) == {"addr:1.2.3.4"}
    now[0] += 1000
    log.add(["name:new"], forget_before=now[0] - 300)  # the old rows go
    assert set(log.recent(["addr:1.2.3.4", "name:bob", "name:new"], since=0)) == {"name:new"}
    long_name = "name:" + "x" * 100_000  # whatever was typed: stored as a fixed-size hash
    log.add([long_name], forget_before=0)
    assert log.recent([long_name], since=0)[long_name].count == 1
