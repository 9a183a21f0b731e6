"""Limits on what a person can make the server store or do in a drive (issue 10, items 4 and 5).

- Upload parts lived outside the drive quota: any number of chunked uploads, each under the
  quota, stored 890 MiB for a person with 100 MB. Now an unfinished upload holds its declared size
  against the quota from its start, and a person may have at most 8 unfinished at once.
- A 10 kB path answered 500 after creating 16 folders. Now any path over 4,096 bytes, with more
  than 256 names, or with a name over 255 bytes is refused with 400 ``bad_path`` and nothing made.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_tiers import tier_config
from tests.support.server import Client, DikteServer

KiB = 1024
SERVER = Callable[..., DikteServer]


def _everything(root: Path) -> set[str]:
    return {os.path.relpath(os.path.join(d, n), root)
            for d, dirs, files in os.walk(root) for n in dirs + files}


def _start(client: Client, path: str, size: int) -> httpx.Response:
    return client.http.post("/api/uploads", json={"target": "drive", "path": path, "size": size})


def _error(r: httpx.Response, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    error: dict[str, Any] = r.json()["error"]
    assert error["code"] == code, r.text
    return str(error["message"])


@pytest.fixture
def small_quota(fresh_server: SERVER, tmp_path: Path) -> tuple[DikteServer, Client]:
    """A server whose tier has a 1 MiB drive quota (no sandbox: only the drive is used)."""
    srv = fresh_server("--unsafe-no-sandbox",
                       DIKTE_CONFIG=tier_config(tmp_path, drive_quota='"1MiB"'))
    return srv, srv.start().client()


def test_upload_parts_cannot_store_more_than_the_quota(
        small_quota: tuple[DikteServer, Client]) -> None:
    srv, client = small_quota
    held = []
    for i in range(2):
        r = _start(client, f"part{i}.bin", 400 * KiB)
        assert r.status_code == 201, r.text
        held.append(r.json()["upload_id"])
    message = _error(_start(client, "part2.bin", 400 * KiB), 507, "drive_full")
    assert "1 MiB" in message and "unfinished uploads hold 800 KiB" in message, message
    for upload_id in held:
        r = client.http.put(f"/api/uploads/{upload_id}", params={"offset": 0},
                            content=b"x" * 400 * KiB)
        assert r.status_code == 200, r.text
    parts = srv.data_dir / "uploads" / "1"
    stored = sum(p.stat().st_size for p in parts.rglob("part"))
    assert stored == 800 * KiB
    # what the uploads hold is not free for the drive either
    _error(client.http.put("/api/drive/files/big.bin", content=b"y" * 300 * KiB),
           507, "drive_full")
    r = client.http.post(f"/api/uploads/{held[0]}/complete")
    assert r.status_code == 200, r.text
    _error(_start(client, "part3.bin", 400 * KiB), 507, "drive_full")  # 400 in drive + 400 held
    assert client.http.delete(f"/api/uploads/{held[1]}").status_code == 204
    assert _start(client, "part4.bin", 400 * KiB).status_code == 201


def test_a_chunk_is_refused_once_the_drive_filled_up_meanwhile(
        small_quota: tuple[DikteServer, Client]) -> None:
    srv, client = small_quota
    r = _start(client, "late.bin", 400 * KiB)
    assert r.status_code == 201, r.text
    upload_id = r.json()["upload_id"]
    (srv.data_dir / "drives" / "1" / "from-a-runtime.bin").write_bytes(b"r" * 700 * KiB)
    r = client.http.put(f"/api/uploads/{upload_id}", params={"offset": 0},
                        content=b"x" * 100 * KiB)
    _error(r, 507, "drive_full")
    assert client.get(f"/api/uploads/{upload_id}")["offset"] == 0


def test_uploads_in_flight_are_capped(small_quota: tuple[DikteServer, Client]) -> None:
    _, client = small_quota
    ids = []
    for i in range(8):
        r = _start(client, f"many/{i}.bin", 1)
        assert r.status_code == 201, r.text
        ids.append(r.json()["upload_id"])
    message = _error(_start(client, "many/9.bin", 1), 429, "too_many_uploads")
    assert "8 unfinished uploads" in message and "Finish or cancel" in message, message
    assert client.http.delete(f"/api/uploads/{ids[0]}").status_code == 204
    assert _start(client, "many/9.bin", 1).status_code == 201


TOO_LONG = {
    "10 kB": "/".join(["abcdefghijklmno"] * 640),
    "300 names": "/".join(["d"] * 300),
    "a 300-byte name": "a/" + "n" * 300,
}


@pytest.mark.parametrize("name", TOO_LONG)
def test_too_long_paths_answer_bad_path_and_make_nothing(
        fresh_server: SERVER, name: str) -> None:
    srv = fresh_server("--unsafe-no-sandbox")
    client = srv.start().client()
    drive = srv.data_dir / "drives" / "1"
    client.get("/api/drive/list")
    before = _everything(drive)
    path = TOO_LONG[name]
    responses = [
        client.http.put(f"/api/drive/files/{path}/x.bin", content=b"x"),
        client.http.post("/api/drive/dirs", json={"path": path}),
        client.http.get("/api/drive/list", params={"path": path}),
        client.http.get(f"/api/drive/files/{path}"),
        client.http.delete(f"/api/drive/files/{path}"),
        client.http.post("/api/drive/rename", json={"src": "Notebooks", "dst": path}),
        client.http.post("/api/notebooks", json={"path": f"{path}/n.ipynb"}),
        _start(client, f"{path}/x.bin", 1),
    ]
    for r in responses:
        message = _error(r, 400, "bad_path")
        assert len(message) < 400, message
    assert _everything(drive) == before
    assert not (srv.data_dir / "uploads" / "1").exists() or not any(
        (srv.data_dir / "uploads" / "1").iterdir())
