"""Chunked, resumable uploads into the drive and into a runtime's /content."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dikte.db import Database
from dikte.db.models import PersonRow
from tests.support.server import Client, DikteServer, cell_text

MiB = 2**20


def _start(client: Client, path: str, size: int, **extra: Any) -> Any:
    r = client.http.post("/api/uploads", json={"target": "drive", "path": path, "size": size,
                                               **extra})
    assert r.status_code == 201, r.text
    return r.json()


def _put(client: Client, upload_id: str, offset: int, body: Any) -> httpx.Response:
    return client.http.put(f"/api/uploads/{upload_id}", params={"offset": offset}, content=body)


def _part(server: DikteServer, upload_id: str) -> Path:
    return server.data_dir / "uploads" / "1" / upload_id / "part"


def test_chunks_in_order_then_complete(server: DikteServer, client: Client) -> None:
    data = os.urandom(3 * MiB + 5)
    up = _start(client, "up/ordered.bin", len(data))
    assert up["offset"] == 0 and up["size"] == len(data) and up["chunk_size"] == 8 * MiB
    assert _part(server, up["upload_id"]).is_file()  # private, outside the drive
    for start in range(0, len(data), MiB):
        r = _put(client, up["upload_id"], start, data[start:start + MiB])
        assert r.json() == {"offset": min(start + MiB, len(data)), "size": len(data)}
    r = client.http.post(f"/api/uploads/{up['upload_id']}/complete")
    assert r.status_code == 200 and r.json()["path"] == "up/ordered.bin", r.text
    assert client.http.get("/api/drive/files/up/ordered.bin").content == data
    assert not _part(server, up["upload_id"]).parent.exists()
    assert client.http.get(f"/api/uploads/{up['upload_id']}").status_code == 404


def test_resume_after_a_dropped_connection(server: DikteServer, client: Client) -> None:
    data = os.urandom(6 * MiB)
    up = _start(client, "up/resumed.bin", len(data))
    uid = up["upload_id"]
    assert _put(client, uid, 0, data[:2 * MiB]).json()["offset"] == 2 * MiB

    def three_of_four_mib_then_drop() -> Iterator[bytes]:
        for start in range(2 * MiB, 5 * MiB, MiB // 4):
            yield data[start:start + MiB // 4]
        raise ConnectionResetError("network gone")

    with pytest.raises(ConnectionResetError):
        _put(client, uid, 2 * MiB, three_of_four_mib_then_drop())
    assert client.get(f"/api/uploads/{uid}") == {"offset": 2 * MiB, "size": len(data)}
    part = _part(server, uid)
    deadline = time.monotonic() + 10  # the server notices the drop, then cuts the part back
    while part.stat().st_size != 2 * MiB and time.monotonic() < deadline:
        time.sleep(0.02)
    assert part.stat().st_size == 2 * MiB
    r = _put(client, uid, 2 * MiB, data[2 * MiB:])
    assert r.json() == {"offset": len(data), "size": len(data)}
    client.post(f"/api/uploads/{uid}/complete")
    assert client.http.get("/api/drive/files/up/resumed.bin").content == data
    assert "unexpected error" not in server.log_text()


def test_wrong_offset_and_passing_the_end_are_refused(client: Client) -> None:
    up = _start(client, "up/wrong.bin", 10)
    uid = up["upload_id"]
    _put(client, uid, 0, b"12345")
    r = _put(client, uid, 3, b"xx")
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "wrong_offset" and "offset 5" in error["message"]
    assert r.headers["Upload-Offset"] == "5"
    r = _put(client, uid, 5, b"123456")  # 11 bytes in all
    assert r.status_code == 413 and r.json()["error"]["code"] == "past_end", r.text
    assert client.get(f"/api/uploads/{uid}")["offset"] == 5
    r = client.http.post(f"/api/uploads/{uid}/complete")
    assert r.status_code == 409 and r.json()["error"]["code"] == "incomplete"
    assert client.http.delete(f"/api/uploads/{uid}").status_code == 204
    assert client.http.get(f"/api/uploads/{uid}").status_code == 404


def test_oversize_is_refused_with_the_limit(client: Client) -> None:
    r = client.http.post("/api/uploads", json={"target": "drive", "path": "huge.bin",
                                               "size": 11 * 2**30})
    assert r.status_code == 413, r.text
    assert "10 GiB" in r.json()["error"]["message"]


def test_malformed_notebook_is_refused_at_complete(client: Client) -> None:
    body = json.dumps({"cells": [{"cell_type": "bogus"}], "nbformat": 4}).encode()
    up = _start(client, "Notebooks/broken.ipynb", len(body))
    _put(client, up["upload_id"], 0, body)
    r = client.http.post(f"/api/uploads/{up['upload_id']}/complete")
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_notebook", r.text
    assert client.http.get("/api/drive/files/Notebooks/broken.ipynb").status_code == 404


def test_an_upload_belongs_to_its_person(server: DikteServer, client: Client) -> None:
    up = _start(client, "up/mine.bin", 4)
    db = Database(f"sqlite:///{server.data_dir / 'dikte.db'}")
    try:
        with db.session() as s, s.begin():
            row = PersonRow(name="someone else", is_admin=False, created_at=time.time())
            s.add(row)
            s.flush()
            other_id = row.id
        other = server.client(db.create_token(other_id, "test"))
    finally:
        db.close()
    uid = up["upload_id"]
    assert other.http.get(f"/api/uploads/{uid}").status_code == 404
    assert _put(other, uid, 0, b"evil").status_code == 404
    assert other.http.post(f"/api/uploads/{uid}/complete").status_code == 404
    assert other.http.delete(f"/api/uploads/{uid}").status_code == 404
    assert client.get(f"/api/uploads/{uid}")["offset"] == 0


def test_upload_into_a_runtime(client: Client) -> None:
    path = "Notebooks/upload-runtime.ipynb"
    r = client.http.post("/api/uploads", json={"target": "runtime", "notebook": path,
                                               "path": "in.txt", "size": 2})
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_connected"
    (cid,) = client.new_notebook(path, ["import os; print(open('/content/d/in.txt').read(), "
                                        "os.stat('/content/d/in.txt').st_uid)"])
    client.post("/api/notebooks/connect", {"path": path})
    up = client.post("/api/uploads", {"target": "runtime", "notebook": path,
                                      "path": "d/in.txt", "size": 2})
    _put(client, up["upload_id"], 0, b"hi")
    assert client.post(f"/api/uploads/{up['upload_id']}/complete")["path"] == "d/in.txt"
    (state,) = client.run_cells(path, [cid])
    assert state["last_status"] == "ok"
    assert cell_text(client.view(path), cid).split() == ["hi", "0"]  # the runtime's root


def test_200_mb_in_8_mib_chunks(client: Client) -> None:
    size, chunk = 200 * MiB, 8 * MiB
    block = os.urandom(MiB)
    digest = hashlib.sha256()

    def piece(start: int) -> bytes:  # distinct bytes per MiB, without holding 200 MB
        n = start // MiB
        return bytes([n % 251]) + block[1:]

    up = _start(client, "up/big.bin", size)
    for start in range(0, size, chunk):
        body = b"".join(piece(s) for s in range(start, start + chunk, MiB))
        digest.update(body)
        assert _put(client, up["upload_id"], start, body).json()["offset"] == start + chunk
    assert client.post(f"/api/uploads/{up['upload_id']}/complete")["size"] == size
    got = hashlib.sha256()
    with client.http.stream("GET", "/api/drive/files/up/big.bin") as r:
        for data in r.iter_bytes():
            got.update(data)
    assert got.hexdigest() == digest.hexdigest()


def test_stale_parts_are_removed_at_start(fresh_server: Callable[..., DikteServer]) -> None:
    srv = fresh_server()
    person = srv.data_dir / "uploads" / "1"
    old, recent = person / ("o" * 22), person / ("r" * 22)
    for d in (old, recent):
        d.mkdir(parents=True)
        (d / "meta.json").write_text(json.dumps({"target": "drive", "notebook": None,
                                                 "path": "x", "size": 1}))
        (d / "part").write_bytes(b"")
        (d / "offset").write_text("0")
    day_ago = time.time() - 25 * 3600
    for f in (old, *old.iterdir()):
        os.utime(f, (day_ago, day_ago))
    srv.start()
    assert not old.exists() and recent.is_dir()
    assert srv.client().get(f"/api/uploads/{'r' * 22}") == {"offset": 0, "size": 1}
