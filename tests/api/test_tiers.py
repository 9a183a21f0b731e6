"""Tier limits enforced on a real server with small test tiers (seconds, megabytes).

The time limits' rules are pure (tests/policy/test_lifecycle.py) and the reaper applies them
with the clock in the test's hands (tests/control/test_reaper.py); here, the reaper running in a
server: the preemption notice reaching the kernel, and the drive quota's warning and stop."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.support.server import Client, DikteServer, cell_text

SERVER = Callable[..., DikteServer]


def tier_config(tmp_path: Path, extra: str = "", *, top: str = "", disk: str = '"1GiB"',
                **fields: object) -> str:
    """A config whose one tier, free, has small limits (overridable by keyword); ``extra`` adds
    TOML lines at the end (e.g. more shapes), ``top`` settings lines at the start, ``disk`` is the
    standard shape's disk."""
    tier: dict[str, object] = {
        "idle_timeout_s": 3600, "max_lifetime_s": 3600, "disconnect_grace_s": 3600,
        "daily_accelerator_hours": 0, "drive_quota": '"1GiB"', "warn_before_stop_s": 2,
        "connect_limit": 10, "connect_window_s": 60}
    tier.update(fields)
    lines = ["reaper_seconds = 0.25", top, "[tiers.free]", 'name = "free"']
    lines += [f"{k} = {v}" for k, v in tier.items()]
    lines += ["[tiers.free.shapes.standard]", "max_sessions = 1", 'memory = "1GiB"',
              f"disk = {disk}", extra]
    path = tmp_path / "dikte.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def start(fresh_server: SERVER, tmp_path: Path, extra: str = "", **fields: object) -> Client:
    """A fresh server under :func:`tier_config` (same keywords), and a client of it."""
    return fresh_server(DIKTE_CONFIG=tier_config(tmp_path, extra, **fields)).start().client()


def test_a_connect_beyond_the_session_limit_is_refused_naming_it(
        fresh_server: SERVER, tmp_path: Path) -> None:
    client = start(fresh_server, tmp_path)
    client.new_notebook("Notebooks/a.ipynb", ["1"])
    client.new_notebook("Notebooks/b.ipynb", ["1"])
    client.post("/api/notebooks/connect", {"path": "Notebooks/a.ipynb"})
    r = client.http.post("/api/notebooks/connect", json={"path": "Notebooks/b.ipynb"})
    assert r.status_code == 429
    assert r.json()["error"]["message"] == (
        "You have 1 of 1 standard sessions. Terminate one in Manage sessions, or wait.")
    assert client.view("Notebooks/b.ipynb")["runtime"] is None
    client.post("/api/notebooks/disconnect", {"path": "Notebooks/a.ipynb"})
    client.post("/api/notebooks/connect", {"path": "Notebooks/b.ipynb"})  # room again
    # the limits are published, and the runtime got the tier's RAM
    assert client.get("/api/tiers")["tiers"]["free"]["shapes"]["standard"]["max_sessions"] == 1
    (session,) = client.get("/api/sessions")
    assert session["memory_limit"] == 2**30


def test_connecting_too_often_is_refused_with_the_wait(fresh_server: SERVER,
                                                       tmp_path: Path) -> None:
    client = start(fresh_server, tmp_path, connect_limit=2)
    client.new_notebook("Notebooks/a.ipynb", ["1"])
    for _ in range(2):
        client.post("/api/notebooks/connect", {"path": "Notebooks/a.ipynb"})
        client.post("/api/notebooks/disconnect", {"path": "Notebooks/a.ipynb"})
    r = client.http.post("/api/notebooks/connect", json={"path": "Notebooks/a.ipynb"})
    assert r.status_code == 429 and r.json()["error"]["code"] == "connect_rate"
    assert 0 < int(r.headers["retry-after"]) <= 60


def test_my_usage_counts_runtime_time_today(fresh_server: SERVER, tmp_path: Path) -> None:
    client = start(fresh_server, tmp_path)
    client.new_notebook("Notebooks/u.ipynb", ["1"])
    client.post("/api/notebooks/connect", {"path": "Notebooks/u.ipynb"})
    client.post("/api/notebooks/disconnect", {"path": "Notebooks/u.ipynb"})
    usage = client.get("/api/usage")
    assert usage["tier"] == "free"
    assert usage["runtime_seconds_today"]["standard"] > 0
    assert usage["accelerator_hours_left"] == 0
    assert usage["resets_at"] > 0 and usage["reset"] == {"time": "00:00", "timezone": "UTC"}


def test_running_a_cell_past_the_limit_is_refused_and_nothing_stays_queued(
        fresh_server: SERVER, tmp_path: Path) -> None:
    client = start(fresh_server, tmp_path)
    client.new_notebook("Notebooks/a.ipynb", ["1"])
    (cid,) = client.new_notebook("Notebooks/b.ipynb", ["print('never')"])
    client.post("/api/notebooks/connect", {"path": "Notebooks/a.ipynb"})
    r = client.http.post("/api/notebooks/run", json={"path": "Notebooks/b.ipynb",
                                                      "cell_ids": [cid]})
    assert r.status_code == 429 and r.json()["error"]["code"] == "session_limit"
    sock = client.socket("Notebooks/b.ipynb")
    try:
        sock.send({"type": "execute", "cell_id": cid})  # the same through the WebSocket
        err = sock.wait_for(lambda m: m["type"] == "error")
        assert err["code"] == "session_limit" and "1 of 1" in err["message"]
    finally:
        sock.close()
    view = client.view("Notebooks/b.ipynb")
    assert view["cells"][cid]["state"] == "idle" and view["runtime"] is None


def test_the_kernel_gets_a_preemption_notice_before_a_stop(fresh_server: SERVER,
                                                           tmp_path: Path) -> None:
    client = start(fresh_server, tmp_path, max_lifetime_s=5, warn_before_stop_s=4)
    path = "Notebooks/checkpoint.ipynb"
    subscribe, wait = client.new_notebook(path, [
        "import dikte_runtime, time\ngot = []\ndikte_runtime.on_preemption(got.append)",
        "while not got: time.sleep(0.1)\n"
        "print(got[0]['code'], 0 < got[0]['at'] - time.time() <= 4)",
    ])
    client.post("/api/notebooks/connect", {"path": path})
    client.run_cells(path, [subscribe, wait], timeout=30)
    assert cell_text(client.view(path), wait).strip() == "max_lifetime True"


def test_shapes_and_background_execution(fresh_server: SERVER, tmp_path: Path) -> None:
    client = start(fresh_server, tmp_path, background_execution="true", background_sessions=1,
                   extra='[tiers.free.shapes.high_ram]\nmax_sessions = 1\nmemory = "1500MiB"\n'
                         'disk = "1GiB"')
    for name in ("a", "b", "c"):
        client.new_notebook(f"Notebooks/{name}.ipynb", ["1"])
    big = client.post("/api/notebooks/connect", {"path": "Notebooks/a.ipynb", "shape": "high_ram",
                                                 "background": True})
    assert big["shape"] == "high_ram" and big["background"] is True
    r = client.http.post("/api/notebooks/connect", json={"path": "Notebooks/b.ipynb",
                                                         "shape": "high_ram"})
    assert r.status_code == 429 and "1 of 1 high-RAM sessions" in r.json()["error"]["message"]
    client.post("/api/notebooks/connect", {"path": "Notebooks/b.ipynb"})  # a standard one
    sessions = {s["notebook_path"]: s for s in client.get("/api/sessions")}
    assert sessions["Notebooks/a.ipynb"]["memory_limit"] == 1500 * 2**20
    assert sessions["Notebooks/a.ipynb"]["background"] is True
    assert sessions["Notebooks/b.ipynb"]["background"] is False


def test_what_the_tier_lacks_is_refused_naming_it(fresh_server: SERVER, tmp_path: Path) -> None:
    client = start(fresh_server, tmp_path)
    client.new_notebook("Notebooks/a.ipynb", ["1"])
    r = client.http.post("/api/notebooks/connect", json={"path": "Notebooks/a.ipynb",
                                                         "shape": "high_ram"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "shape_unavailable"
    assert "high-RAM" in r.json()["error"]["message"]
    r = client.http.post("/api/notebooks/connect", json={"path": "Notebooks/a.ipynb",
                                                         "background": True})
    assert r.status_code == 403 and r.json()["error"]["code"] == "background_unavailable"


def test_a_runtime_writing_past_the_drive_quota_is_warned_then_stopped(
        fresh_server: SERVER, tmp_path: Path) -> None:
    client = start(fresh_server, tmp_path, drive_quota='"1MiB"', warn_before_stop_s=3)
    path = "Notebooks/fill.ipynb"
    subscribe, fill = client.new_notebook(path, [
        "import dikte_runtime\ngot = []\ndikte_runtime.on_preemption(got.append)",
        "open('/content/drive/MyDrive/big.bin', 'wb').write(b'x' * 3 * 2**20)\n"
        "import time\nwhile not got: time.sleep(0.1)\nprint(got[0]['code'])\n"
        "while True: time.sleep(0.1)",
    ])
    client.post("/api/notebooks/connect", {"path": path})
    client.run_cells(path, [subscribe])
    sock = client.socket(path)
    try:
        sock.send({"type": "execute", "cell_id": fill})
        warning = sock.wait_for(lambda m: m["type"] == "notice"
                                and m.get("code") == "drive_quota")
        assert "over its quota of 1 MiB" in warning["message"]
        gone = sock.wait_for(lambda m: m["type"] == "runtime" and m["status"] == "disconnected")
    finally:
        sock.close()
    assert gone["message"].startswith("Runtime disconnected: your drive holds 3")
    assert "over its quota of 1 MiB" in gone["message"]
    # the notebook could not be saved into the full drive, so the server keeps its outputs
    text = cell_text(client.view(path), fill)
    assert text.startswith("drive_quota") and "Runtime disconnected" in text
    # nothing was deleted: the drive keeps the file, and a new runtime is refused until it shrinks
    r = client.http.post("/api/notebooks/connect", json={"path": path})
    assert r.status_code == 507 and r.json()["error"]["code"] == "drive_full", r.text
    client.call("DELETE", "/api/drive/files/big.bin")
    client.post("/api/notebooks/connect", {"path": path})
    client.post("/api/notebooks/disconnect", {"path": path})  # saves, now that there is room
    saved = client.call("GET", f"/api/drive/files/{path}")
    (out,) = [c for c in saved["cells"] if c["id"] == fill]
    assert "drive_quota" in json.dumps(out["outputs"])
