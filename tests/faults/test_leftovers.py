"""What an interrupted save or upload leaves behind (issue 11, item 5).

A save writes a temp file beside the notebook (``.~dikte-<random>.tmp``) and renames it into
place; a server killed in between left the temp file forever, counted in the drive's quota. An
upload left unfinished held its declared size against the quota until the server restarted a day
later. Now the server removes its own temp files at start-up (and logs it), never counts them,
and drops uploads untouched for a day whenever the quota is next looked at.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.api.test_tiers import tier_config
from tests.support.server import Client, DikteServer

pytestmark = pytest.mark.timeout(120)

KiB = 1024
DAY = 24 * 3600
SERVER = Callable[..., DikteServer]


@pytest.fixture
def one_mib(fresh_server: SERVER, tmp_path: Path) -> DikteServer:
    """A server (not started) whose tier has a 1 MiB drive quota; no sandbox: only drives."""
    return fresh_server("--unsafe-no-sandbox",
                        DIKTE_CONFIG=tier_config(tmp_path, drive_quota='"1MiB"'))


def _drive(srv: DikteServer, client: Client) -> Path:
    client.get("/api/drive/list")  # made at first use
    return srv.data_dir / "drives" / str(client.get("/api/me")["id"])


def test_a_save_cut_off_by_kill_9_leaves_nothing_after_the_next_start(
        one_mib: DikteServer) -> None:
    client = one_mib.start().client()
    client.post("/api/notebooks", {"path": "Notebooks/a.ipynb"})
    drive = _drive(one_mib, client)
    one_mib.stop(signal.SIGKILL)
    # what a save cut off between writing its temp file and renaming it leaves
    left = [drive / "Notebooks" / ".~dikte-0123456789ab.tmp", drive / ".~dikte-ba9876543210.tmp"]
    for path in left:
        path.write_bytes(b"{" * (700 * KiB))

    client = one_mib.start().client()
    assert not [p for p in left if p.exists()]
    assert "removed 2 temp files of interrupted saves" in one_mib.log_text()
    names = [e["name"] for e in client.get("/api/drive/list", params={"path": "Notebooks"})[
        "entries"]]
    assert names == ["a.ipynb"]
    # the quota is right: 900 KiB fits beside the notebook in 1 MiB
    r = client.http.put("/api/drive/files/big.bin", content=b"x" * (900 * KiB))
    assert r.status_code == 201, r.text


def test_temp_files_of_saves_do_not_count_against_the_quota(one_mib: DikteServer) -> None:
    client = one_mib.start().client()
    drive = _drive(one_mib, client)
    (drive / ".~dikte-00000000cafe.tmp").write_bytes(b"x" * (900 * KiB))
    r = client.http.put("/api/drive/files/big.bin", content=b"x" * (900 * KiB))
    assert r.status_code == 201, r.text
    listed = [e["name"] for e in client.get("/api/drive/list")["entries"]]
    assert ".~dikte-00000000cafe.tmp" not in listed and "big.bin" in listed


def test_an_upload_untouched_for_a_day_stops_holding_room_without_a_restart(
        one_mib: DikteServer) -> None:
    client = one_mib.start().client()
    r = client.http.post("/api/uploads", json={"target": "drive", "path": "a.bin",
                                               "size": 900 * KiB})
    assert r.status_code == 201, r.text
    upload = one_mib.data_dir / "uploads" / str(client.get("/api/me")["id"]) / r.json()["upload_id"]
    meta = json.loads((upload / "meta.json").read_text())
    assert meta["size"] == 900 * KiB
    r = client.http.post("/api/uploads", json={"target": "drive", "path": "b.bin",
                                               "size": 900 * KiB})
    assert r.status_code == 507, r.text  # the first one holds its room while it may go on

    long_ago = time.time() - DAY - 60
    for path in [*upload.iterdir(), upload]:
        os.utime(path, (long_ago, long_ago))
    r = client.http.post("/api/uploads", json={"target": "drive", "path": "b.bin",
                                               "size": 900 * KiB})
    assert r.status_code == 201, r.text
    assert not upload.exists()
