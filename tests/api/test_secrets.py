"""Secrets (Colab's Secrets panel and ``google.colab.userdata``) against a real server and runtime.

A person's secrets are stored encrypted, listed without values, and read back only by a runtime
of a notebook granted access. Person B can neither see, change nor use person A's, and a runtime
reads only its own person's secrets, for its own notebook.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from dikte.bridge.channel import runtime_token
from dikte.db.secrets import SecretBox
from dikte.keys import derive_key
from tests.support.server import Client, DikteServer, cell_text, make_person

VALUE = f"value-of-a-{uuid.uuid4().hex}"
NB1 = "Notebooks/secrets-one.ipynb"
NB2 = "Notebooks/secrets-two.ipynb"


@dataclass
class People:
    a: Client
    b: Client
    a_id: int
    b_id: int


def _person(server: DikteServer, admin: Client, name: str,
            scopes: tuple[str, ...] = ("write",)) -> tuple[int, Client]:
    return make_person(server, admin, name, scopes=scopes)


@pytest.fixture(scope="module")
def people(server: DikteServer) -> Iterator[People]:
    admin = server.client()
    a_id, a = _person(server, admin, "sec-alice")
    b_id, b = _person(server, admin, "sec-bob")
    yield People(a=a, b=b, a_id=a_id, b_id=b_id)
    server.terminate_sessions()


def _run(client: Client, path: str, source: str) -> tuple[str, str]:
    """Run a new cell at the end of ``path`` (created if missing); its status and text."""
    if client.http.get("/api/notebooks/view", params={"path": path}).status_code == 404:
        client.post("/api/notebooks", {"path": path})
    (cid,) = client.post("/api/notebooks/edit", {"path": path, "ops": [
        {"op": "insert", "source": source}]})["inserted"]
    (state,) = client.run_cells(path, [cid])
    return state["last_status"], cell_text(client.view(path), cid)


def _runtime_id(client: Client, path: str) -> str:
    (rid,) = [s["runtime_id"] for s in client.get("/api/sessions") if s["notebook_path"] == path]
    return str(rid)


GET = "from google.colab import userdata\nprint(userdata.get({name!r}))"


def test_a_secret_is_listed_without_its_value_and_changed_in_place(people: People) -> None:
    a = people.a
    r = a.http.put("/api/secrets/LIFE", json={"value": "first"})
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "LIFE" and r.json()["notebooks"] == []
    r = a.http.put("/api/secrets/LIFE", json={"value": "second"})
    assert r.status_code == 200
    listing = a.http.get("/api/secrets")
    assert "first" not in listing.text and "second" not in listing.text
    (entry,) = [s for s in listing.json() if s["name"] == "LIFE"]
    assert set(entry) == {"name", "created_at", "updated_at", "notebooks"}
    r = a.http.post("/api/secrets/LIFE/access", json={"path": "Notebooks//./x.ipynb",
                                                       "granted": True})
    assert r.json()["notebooks"] == ["Notebooks/x.ipynb"]  # one spelling of the path
    r = a.http.post("/api/secrets/LIFE/access", json={"path": "Notebooks/x.ipynb",
                                                       "granted": False})
    assert r.json()["notebooks"] == []
    assert a.http.delete("/api/secrets/LIFE").status_code == 204
    r = a.http.delete("/api/secrets/LIFE")
    assert r.status_code == 404 and r.json()["error"]["code"] == "secret_not_found"


def test_names_paths_and_scopes_are_checked(server: DikteServer, people: People) -> None:
    a = people.a
    for bad in ("1ABC", "has space", "a/b", "x" * 101, "ä"):
        r = a.http.put(f"/api/secrets/{bad}", json={"value": "v"})
        assert r.status_code in (404, 422), (bad, r.status_code)
    a.http.put("/api/secrets/PATHS", json={"value": "v"})
    for path, code in (("../x.ipynb", "bad_path"), ("/abs.ipynb", "bad_path"),
                       ("Notebooks/data.csv", "not_a_notebook")):
        r = a.http.post("/api/secrets/PATHS/access", json={"path": path, "granted": True})
        assert r.status_code == 400 and r.json()["error"]["code"] == code, r.text
    lone_surrogate = b'{"value": "\\ud800"}'
    r = a.http.put("/api/secrets/PATHS", content=lone_surrogate,
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 422  # text that cannot be stored (or sent back) is refused
    r = a.http.post("/api/secrets/PATHS/access", content=b'{"path": "\\udc80.ipynb", '
                    b'"granted": true}', headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    _, reader = _person(server, server.client(), "sec-reader", scopes=("read",))
    r = reader.http.put("/api/secrets/MINE", json={"value": "v"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "read_only"


def test_the_database_holds_ciphertext_bound_to_its_owner(server: DikteServer,
                                                          people: People) -> None:
    people.a.http.put("/api/secrets/STORED", json={"value": VALUE})
    db = sqlite3.connect(server.data_dir / "dikte.db")
    try:
        (blob,) = db.execute("SELECT ciphertext FROM secrets WHERE name = 'STORED' AND "
                             "person_id = ?", (people.a_id,)).fetchone()
        dump = "\n".join(db.iterdump())
    finally:
        db.close()
    assert VALUE not in dump and VALUE.encode() not in bytes(blob)
    box = SecretBox(derive_key(server.data_dir, "secrets"))
    assert box.open(people.a_id, "STORED", bytes(blob)) == VALUE
    with pytest.raises(Exception, match="cannot be decrypted"):
        box.open(people.b_id, "STORED", bytes(blob))  # moved to B's row, it does not open
    with pytest.raises(Exception, match="cannot be decrypted"):
        SecretBox(derive_key(server.data_dir, "runtime-channel")).open(people.a_id, "STORED",
                                                                      bytes(blob))


def test_userdata_get_reads_a_granted_secret_and_raises_as_colab_does(people: People) -> None:
    a = people.a
    a.http.put("/api/secrets/API_KEY", json={"value": VALUE})
    status, text = _run(a, NB1, GET.format(name="API_KEY"))
    assert status == "error"
    assert "NotebookAccessError" in text and "API_KEY" in text and "Secrets panel" in text
    a.post("/api/secrets/API_KEY/access", {"path": NB1, "granted": True})
    status, text = _run(a, NB1, GET.format(name="API_KEY"))
    assert (status, text.strip()) == ("ok", VALUE)
    status, text = _run(a, NB1, GET.format(name="NO_SUCH_SECRET"))
    assert status == "error" and "SecretNotFoundError" in text and "NO_SUCH_SECRET" in text
    status, text = _run(a, NB1, (
        "from google.colab import userdata\n"
        "from google.colab import errors\n"
        "print(issubclass(userdata.SecretNotFoundError, errors.Error),"
        " issubclass(userdata.NotebookAccessError, Exception))"))
    assert (status, text.strip()) == ("ok", "True True")
    # revoked: the runtime reads it no more
    a.post("/api/secrets/API_KEY/access", {"path": NB1, "granted": False})
    status, text = _run(a, NB1, GET.format(name="API_KEY"))
    assert status == "error" and "NotebookAccessError" in text and VALUE not in text


def test_b_cannot_list_change_delete_grant_or_use_a_secrets(people: People) -> None:
    a, b = people.a, people.b
    a.http.put("/api/secrets/SHARED_NAME", json={"value": VALUE})
    a.post("/api/secrets/SHARED_NAME/access", {"path": NB1, "granted": True})
    listing = b.http.get("/api/secrets")
    assert listing.status_code == 200 and "SHARED_NAME" not in listing.text
    assert VALUE not in listing.text
    r = b.http.delete("/api/secrets/SHARED_NAME")
    assert r.status_code == 404
    r = b.http.post("/api/secrets/SHARED_NAME/access", json={"path": NB1, "granted": True})
    assert r.status_code == 404
    # B's runtime of a notebook at the same path reads nothing of A's
    status, text = _run(b, NB1, GET.format(name="SHARED_NAME"))
    assert status == "error" and "SecretNotFoundError" in text and VALUE not in text
    # B's secret of the same name is B's own: A's value is untouched
    assert b.http.put("/api/secrets/SHARED_NAME", json={"value": "bobs"}).status_code == 201
    status, text = _run(a, NB1, GET.format(name="SHARED_NAME"))
    assert (status, text.strip()) == ("ok", VALUE)


def test_a_runtime_token_reads_only_its_person_and_its_notebook(server: DikteServer,
                                                                people: People) -> None:
    a, b = people.a, people.b
    a.http.put("/api/secrets/FOR_TWO", json={"value": VALUE})
    a.post("/api/secrets/FOR_TWO/access", {"path": NB2, "granted": True})
    b.http.put("/api/secrets/BOBS_OWN", json={"value": "bob-secret-value"})
    b.post("/api/secrets/BOBS_OWN/access", {"path": NB1, "granted": True})
    assert _run(a, NB1, "1")[0] == "ok"
    assert _run(b, NB1, "1")[0] == "ok"
    a_rid, b_rid = _runtime_id(a, NB1), _runtime_id(b, NB1)
    key = derive_key(server.data_dir, "runtime-channel")
    a_token = runtime_token(key, a_rid)

    def read(rid: str, name: str, token: str = a_token) -> httpx.Response:
        return httpx.get(f"{server.url}/api/runtime-channel/{rid}/secrets/{name}",
                         headers={"Authorization": f"Bearer {token}"})

    r = read(a_rid, "FOR_TWO")  # A's, but granted to NB2 only
    assert r.status_code == 200 and VALUE not in r.text
    assert r.json()["exists"] and not r.json()["access"] and r.json()["value"] is None
    assert "Notebook access" in r.json()["message"]
    r = read(a_rid, "BOBS_OWN")  # B's secret, granted to B's notebook at the same path
    assert r.json()["exists"] is False and "bob-secret-value" not in r.text
    r = read(b_rid, "BOBS_OWN")  # A's token on B's runtime's address
    assert r.status_code in (401, 403) and "bob-secret-value" not in r.text
    for token in (people.a.token, people.b.token, "dkr_x_y", "dkr_" + a_rid + "_0"):
        r = read(a_rid, "FOR_TWO", token)
        assert r.status_code == 401 and VALUE not in r.text
    r = httpx.get(f"{server.url}/api/runtime-channel/{a_rid}/secrets/FOR_TWO")
    assert r.status_code == 401 and VALUE not in r.text
    r = httpx.get(f"{server.url}/api/runtime-channel/{a_rid}/secrets/FOR_TWO",
                  headers={"Authorization": f"Bearer {a_token}", "Origin": server.url})
    assert r.status_code == 403  # never from a web page
    # the runtime of NB2 does read it
    status, text = _run(a, NB2, GET.format(name="FOR_TWO"))
    assert (status, text.strip()) == ("ok", VALUE)


def test_grants_follow_a_moved_notebook_and_end_with_a_deleted_one(people: People) -> None:
    a = people.a
    a.http.put("/api/secrets/MOVING", json={"value": "v"})
    a.post("/api/notebooks", {"path": "Notebooks/Old/one.ipynb"})
    a.post("/api/notebooks", {"path": "Notebooks/Old/one_x.ipynb"})
    for path in ("Notebooks/Old/one.ipynb", "Notebooks/Old/one_x.ipynb"):
        a.post("/api/secrets/MOVING/access", {"path": path, "granted": True})
    a.post("/api/drive/rename", {"src": "Notebooks/Old", "dst": "Notebooks/New"})
    (entry,) = [s for s in a.get("/api/secrets") if s["name"] == "MOVING"]
    assert entry["notebooks"] == ["Notebooks/New/one.ipynb", "Notebooks/New/one_x.ipynb"]
    a.call("DELETE", "/api/drive/files/Notebooks/New/one.ipynb")
    a.post("/api/notebooks", {"path": "Notebooks/New/one.ipynb"})  # a new one at the same path
    (entry,) = [s for s in a.get("/api/secrets") if s["name"] == "MOVING"]
    assert entry["notebooks"] == ["Notebooks/New/one_x.ipynb"]
    a.http.delete("/api/secrets/MOVING")
