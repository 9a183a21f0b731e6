"""A full data disk (issue 11, item 7): reads keep working, every write answers 507 with a sentence
that says what is full and what to do, and freeing space is enough to recover, with no restart.

The server's data dir (database and drives) is on a small tmpfs that the test fills to the last
byte. Before, every call with a token not used for a minute answered 500 (the token's last-used
time was written on the request path), so even the delete that would free space failed; chunked
upload start, token and person creation, notebook creation and rename answered 500, and a REST
edit answered 200 although its save had failed.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import Client, DikteServer

pytestmark = pytest.mark.timeout(240)

MiB = 2**20


def _fill(path: Path) -> None:
    """Write ``path`` until the file system it is on has not one byte left."""
    with open(path, "wb", buffering=0) as f:
        size = MiB
        while size:
            try:
                f.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                size //= 2


def _full(r: httpx.Response) -> str:
    """The 507 answer's sentence (asserting that the answer is one)."""
    assert r.status_code == 507, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    error: dict[str, Any] = r.json()["error"]
    assert error["status"] == 507 and error["code"] in ("disk_full", "drive_full"), r.text
    message = str(error["message"])
    assert "disk" in message and ("Delete" in message or "delete" in message), message
    return message


def _written_or_full(r: httpx.Response) -> None:
    """A write that needs no new disk space may still succeed on a full disk; else it is 507."""
    if r.status_code >= 300:
        _full(r)


@pytest.fixture
def full_server(small_fs: Path,
                tmp_path: Path) -> Iterator[tuple[DikteServer, Client, Path]]:
    srv = DikteServer(small_fs / "data", "--unsafe-no-sandbox")
    srv.log_path = tmp_path / "server.log"  # the log is not on the disk that fills up
    try:
        srv.start()
        yield srv, srv.client(), small_fs / "data" / "drives"
    finally:
        srv.close()


def test_a_full_disk_refuses_writes_with_507_and_recovers_when_space_is_freed(
        full_server: tuple[DikteServer, Client, Path]) -> None:
    srv, admin, drives = full_server
    try:
        admin.post("/api/notebooks", {"path": "Notebooks/a.ipynb"})
        admin.post("/api/notebooks", {"path": "Notebooks/x.ipynb"})
        cell = admin.view("Notebooks/a.ipynb")["notebook"]["cells"][0]["id"]
        # tokens never used yet: the first use records when (a database write) on any request
        fresh = [admin.post("/api/tokens", {"name": f"t{i}", "scopes": ["admin"]})["token"] for i in range(3)]
        me = admin.get("/api/me")
        _fill(drives / str(me["id"]) / "filler.bin")

        reader = srv.client(fresh[0])
        assert reader.get("/api/drive/list", params={"path": "Notebooks"})["entries"]
        assert reader.view("Notebooks/a.ipynb")["notebook"]["cells"][0]["id"] == cell

        writer = srv.client(fresh[1]).http
        _full(writer.put("/api/drive/files/new.txt", content=b"x" * 10_000))
        _full(writer.post("/api/uploads", json={"target": "drive", "path": "up.bin",
                                                "size": 1000}))
        _full(writer.post("/api/notebooks", json={"path": "Notebooks/b.ipynb"}))
        message = _full(writer.post("/api/notebooks/edit", json={
            "path": "Notebooks/a.ipynb",
            "ops": [{"op": "set_source", "cell_id": cell, "source": "x = 1\n" * 2000}]}))
        assert "not saved" in message, message
        _written_or_full(writer.post("/api/tokens", json={"name": "another"}))
        _written_or_full(writer.post("/api/people", json={"name": "bea"}))
        _written_or_full(writer.post("/api/drive/rename", json={"src": "Notebooks/a.ipynb",
                                                                "dst": "Notebooks/c.ipynb"}))
        _written_or_full(writer.post("/api/drive/dirs", json={"path": "more"}))
        _written_or_full(writer.post("/api/notebooks/connect", json={"path": "Notebooks/x.ipynb"}))
        for r in (writer.get("/api/tokens"), writer.get("/api/people"),
                  writer.get("/api/sessions"), writer.get("/api/usage")):
            assert r.status_code == 200, r.text

        # freeing space needs nothing but the delete, and then writes work again
        deleter = srv.client(fresh[2]).http
        r = deleter.delete("/api/drive/files/filler.bin")
        assert r.status_code == 204, r.text
        r = writer.put("/api/drive/files/new.txt", content=b"x" * 10_000)
        assert r.status_code == 201, r.text
        r = writer.post("/api/notebooks", json={"path": "Notebooks/b.ipynb"})
        assert r.status_code == 201, r.text
        assert srv.proc is not None and srv.proc.poll() is None
        assert "Traceback" not in srv.log_text(), srv.log_text()[-3000:]
    finally:
        filler = drives / "1" / "filler.bin"
        if filler.exists():
            os.unlink(filler)
