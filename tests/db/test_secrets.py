"""The secrets store on SQLite and PostgreSQL: encryption bound to owner and name, grants per
notebook, people's secrets apart, limits, and deletes that take the grants along."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from dikte.db import Database
from dikte.db.secrets import MAX_SECRETS, SecretBox, SecretRead, SecretStore
from dikte.errors import DikteError, QuotaExceeded


@pytest.fixture
def people(db: Database) -> tuple[int, int]:
    db.ensure_admin()
    a = db.add_person("alice")
    b = db.add_person("bob")
    return a.id, b.id


@pytest.fixture
def store(db: Database) -> SecretStore:
    return SecretStore(db.session, SecretBox(os.urandom(32)))


def test_values_are_sealed_and_read_only_where_granted(db: Database, store: SecretStore,
                                                       people: tuple[int, int]) -> None:
    a, b = people
    info, created = store.put(a, "TOKEN", "s3cret-value")
    assert created and info.notebooks == ()
    with db.engine.connect() as conn:
        (blob,) = conn.execute(text("SELECT ciphertext FROM secrets")).one()
    assert b"s3cret-value" not in bytes(blob) and len(bytes(blob)) == 12 + 12 + 16
    assert store.read(a, "TOKEN", "Notebooks/x.ipynb") == SecretRead(exists=True, access=False)
    assert store.read(b, "TOKEN", "Notebooks/x.ipynb") == SecretRead(exists=False, access=False)
    granted = store.set_access(a, "TOKEN", "Notebooks/x.ipynb", True)
    assert granted is not None and granted.notebooks == ("Notebooks/x.ipynb",)
    assert store.set_access(a, "TOKEN", "Notebooks/x.ipynb", True) == granted  # idempotent
    assert store.read(a, "TOKEN", "Notebooks/x.ipynb").value == "s3cret-value"
    assert store.read(a, "TOKEN", "Notebooks/y.ipynb").access is False
    assert store.read(b, "TOKEN", "Notebooks/x.ipynb").exists is False
    # a new value keeps the grants; each seal uses a fresh nonce
    _, created = store.put(a, "TOKEN", "s3cret-value")
    with db.engine.connect() as conn:
        (again,) = conn.execute(text("SELECT ciphertext FROM secrets")).one()
    assert not created and bytes(again) != bytes(blob)
    assert store.read(a, "TOKEN", "Notebooks/x.ipynb").value == "s3cret-value"


def test_people_have_their_own_names_and_deletes_take_grants(db: Database, store: SecretStore,
                                                             people: tuple[int, int]) -> None:
    a, b = people
    store.put(a, "SAME", "for a")
    store.put(b, "SAME", "for b")
    store.set_access(a, "SAME", "Notebooks/n.ipynb", True)
    store.set_access(b, "SAME", "Notebooks/n.ipynb", True)
    assert store.read(a, "SAME", "Notebooks/n.ipynb").value == "for a"
    assert store.read(b, "SAME", "Notebooks/n.ipynb").value == "for b"
    assert store.set_access(b, "MISSING", "Notebooks/n.ipynb", True) is None
    assert store.delete(a, "SAME") and not store.delete(a, "SAME")
    assert [s.name for s in store.listing(a)] == []
    assert [s.notebooks for s in store.listing(b)] == [("Notebooks/n.ipynb",)]
    with db.engine.connect() as conn:
        grants = conn.execute(text("SELECT count(*) FROM secret_grants")).scalar()
    assert grants == 1
    assert store.get(b, "SAME") is not None and store.get(a, "SAME") is None


def test_a_key_change_is_said_plainly(db: Database, people: tuple[int, int]) -> None:
    a, _ = people
    SecretStore(db.session, SecretBox(os.urandom(32))).put(a, "OLD", "v")
    other = SecretStore(db.session, SecretBox(os.urandom(32)))
    other.set_access(a, "OLD", "Notebooks/n.ipynb", True)
    with pytest.raises(DikteError, match=r"cannot be decrypted.*Set its value again"):
        other.read(a, "OLD", "Notebooks/n.ipynb")


def test_a_person_keeps_a_bounded_number_of_secrets(store: SecretStore,
                                                    people: tuple[int, int]) -> None:
    a, _ = people
    for i in range(MAX_SECRETS):
        store.put(a, f"S{i}", "v")
    with pytest.raises(QuotaExceeded, match=f"{MAX_SECRETS} secrets"):
        store.put(a, "ONE_MORE", "v")
    store.put(a, "S0", "replacing is fine")
