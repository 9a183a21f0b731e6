"""Accelerators on a real server with declared devices (these machines have no GPU): allocation,
the devices a sandboxed runtime sees, the fair queue, accounting across a restart, and the daily
accelerator hours stopping a runtime after a warning.

Each declared device is a small file bound into the sandbox at /dev/nvidiaN, holding its own name,
so a cell can tell which device it got and that no other one is there.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.server import Client, DikteServer, cell_text, make_person

SERVER = Callable[..., DikteServer]

PROBE = ("import glob, json, os\n"
         "print(json.dumps({'cuda': os.environ.get('CUDA_VISIBLE_DEVICES'),\n"
         "                  'nvidia': os.environ.get('NVIDIA_VISIBLE_DEVICES'),\n"
         "                  'nodes': {n: open(n).read() for n in sorted(glob.glob('/dev/nvidia*'))}}))")


def config(tmp_path: Path, devices: int = 2, hours: float = 10, warn: int = 2) -> str:
    """Tiers free (priority 0) and pro (priority 1), both with T4s; ``devices`` declared T4s."""
    lines = ["reaper_seconds = 0.25"]
    for tier, priority in (("free", 0), ("pro", 1)):
        lines += [f"[tiers.{tier}]", f'name = "{tier}"', "idle_timeout_s = 3600",
                  "max_lifetime_s = 3600", "disconnect_grace_s = 3600",
                  f"daily_accelerator_hours = {hours}", 'drive_quota = "1GiB"',
                  f"warn_before_stop_s = {warn}", f"queue_priority = {priority}",
                  f"[tiers.{tier}.shapes.standard]", "max_sessions = 1", 'memory = "1GiB"',
                  'disk = "1GiB"',
                  f"[tiers.{tier}.shapes.T4]", "max_sessions = 3", 'memory = "1GiB"',
                  'disk = "1GiB"']
    for i in range(devices):
        node = tmp_path / f"t4-{i}"
        node.write_text(f"device t4-{i}")
        node.chmod(0o644)
        lines += ["[[accelerators]]", f'id = "GPU-t4-{i}"', 'type = "T4"', 'model = "Tesla T4"',
                  'memory = "15GiB"', f'nodes = ["{node}:/dev/nvidia{i}"]']
    path = tmp_path / "dikte.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def person(server: DikteServer, admin: Client, name: str, tier: str) -> Client:
    return make_person(server, admin, name, tier=tier)[1]


def probe(client: Client, path: str) -> dict[str, Any]:
    (cid,) = client.new_notebook(path, [PROBE])
    client.post("/api/notebooks/connect", {"path": path, "shape": "T4"})
    client.run_cells(path, [cid])
    result: dict[str, Any] = json.loads(cell_text(client.view(path), cid))
    return result


def test_each_runtime_sees_only_its_own_device(fresh_server: SERVER, tmp_path: Path) -> None:
    client = fresh_server(DIKTE_CONFIG=config(tmp_path)).start().client()
    first = probe(client, "Notebooks/a.ipynb")
    second = probe(client, "Notebooks/b.ipynb")
    assert first["cuda"] == first["nvidia"] and second["cuda"] == second["nvidia"]
    assert {first["cuda"], second["cuda"]} == {"GPU-t4-0", "GPU-t4-1"}
    for seen in (first, second):
        (node, text), = seen["nodes"].items()  # its device node, and no other
        assert text == "device " + seen["cuda"].removeprefix("GPU-")
        assert node == "/dev/nvidia" + seen["cuda"][-1]
    sessions = {s["notebook_path"]: s for s in client.get("/api/sessions")}
    assert sessions["Notebooks/a.ipynb"]["shape"] == "T4"
    assert [a["id"] for a in sessions["Notebooks/a.ipynb"]["accelerators"]] == [first["cuda"]]
    # the runtime-type dialog's list: what exists, what is free, what the tier allows
    shapes = {s["shape"]: s for s in client.get("/api/shapes")}
    assert shapes["T4"]["devices"] == 2 and shapes["T4"]["free"] == 0
    assert shapes["T4"]["allowed"] is True and shapes["standard"]["allowed"] is True
    assert shapes["high_ram"]["allowed"] is False
    assert "high-RAM" in shapes["high_ram"]["reason"]
    # a type this server does not have is refused naming what it has
    client.new_notebook("Notebooks/c.ipynb", ["1"])
    r = client.http.post("/api/notebooks/connect", json={"path": "Notebooks/c.ipynb",
                                                         "shape": "A100"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "no_such_accelerator"
    assert "Accelerators here: 2 T4" in r.json()["error"]["message"]
    admin_view = client.get("/api/admin/accelerators")
    assert sorted(len(d["holders"]) for d in admin_view["devices"]) == [1, 1]


def test_the_queue_serves_tier_priority_then_arrival_and_can_be_left(
        fresh_server: SERVER, tmp_path: Path) -> None:
    srv = fresh_server(DIKTE_CONFIG=config(tmp_path, devices=1)).start()
    free = srv.client()
    pro = person(srv, free, "paula", "pro")
    for name in ("a", "b", "c"):
        free.new_notebook(f"Notebooks/{name}.ipynb", ["print('ran')"])
    (cell,) = pro.new_notebook("Notebooks/p.ipynb", ["print('ran')"])
    holder = free.post("/api/notebooks/connect", {"path": "Notebooks/a.ipynb", "shape": "T4"})
    assert holder["status"] == "connected"
    early = free.post("/api/notebooks/connect", {"path": "Notebooks/b.ipynb", "shape": "T4"})
    later = free.post("/api/notebooks/connect", {"path": "Notebooks/c.ipynb", "shape": "T4"})
    assert (early["status"], early["queue_position"]) == ("queued", 1)
    assert (later["status"], later["queue_position"]) == ("queued", 2)
    # a pro person arriving last goes ahead of the free ones
    sock = pro.socket("Notebooks/p.ipynb")
    try:
        ahead = pro.post("/api/notebooks/connect", {"path": "Notebooks/p.ipynb", "shape": "T4"})
        assert (ahead["status"], ahead["queue_position"]) == ("queued", 1)
        assert free.view("Notebooks/b.ipynb")["runtime"]["queue_position"] == 2
        # a cell run while queued waits for the runtime
        pro.post("/api/notebooks/run", {"path": "Notebooks/p.ipynb", "cell_ids": [cell]})
        # leaving the line moves those behind
        free.post("/api/notebooks/disconnect", {"path": "Notebooks/b.ipynb"})
        assert free.view("Notebooks/b.ipynb")["runtime"] is None
        assert free.view("Notebooks/c.ipynb")["runtime"]["queue_position"] == 2
        # the device frees: the head of the line (pro) starts and its cell runs
        free.post("/api/notebooks/disconnect", {"path": "Notebooks/a.ipynb"})
        sock.wait_for(lambda m: m["type"] == "runtime" and m["status"] == "connected")
        sock.wait_done(cell, timeout=60)
    finally:
        sock.close()
    assert cell_text(pro.view("Notebooks/p.ipynb"), cell).strip() == "ran"
    assert free.view("Notebooks/c.ipynb")["runtime"]["queue_position"] == 1
    waiting = free.get("/api/admin/accelerators")["queue"]
    assert [(w["shape"], w["position"]) for w in waiting] == [("T4", 1)]


def test_accelerator_time_survives_a_restart_and_the_daily_hours_stop_with_a_warning(
        fresh_server: SERVER, tmp_path: Path) -> None:
    srv = fresh_server(DIKTE_CONFIG=config(tmp_path, devices=2, hours=0.004, warn=3)).start()
    client = srv.client()
    path = "Notebooks/train.ipynb"
    subscribe, wait = client.new_notebook(path, [
        "import dikte_runtime, time\ngot = []\ndikte_runtime.on_preemption(got.append)",
        "while not got: time.sleep(0.1)\nprint(got[0]['code'])",
    ])
    started = client.post("/api/notebooks/connect", {"path": path, "shape": "T4"})
    device = started["accelerators"][0]["id"]
    client.run_cells(path, [subscribe])
    srv.stop()  # the runtime keeps running; the new server re-attaches it with its device
    srv.start()
    client = srv.client()
    (again,) = client.get("/api/sessions")
    assert again["shape"] == "T4" and [a["id"] for a in again["accelerators"]] == [device]
    assert client.get("/api/usage")["accelerator_seconds_today"]["T4"] > 0
    sock = client.socket(path)
    try:
        sock.send({"type": "execute", "cell_id": wait})
        warning = sock.wait_for(lambda m: m["type"] == "notice"
                                and m.get("code") == "accelerator_quota", timeout=60)
        assert "GPU quota for today" in warning["message"]
        gone = sock.wait_for(lambda m: m["type"] == "runtime" and m["status"] == "disconnected",
                             timeout=60)
    finally:
        sock.close()
    assert gone["message"].startswith("Runtime disconnected: GPU quota for today used:")
    assert cell_text(client.view(path), wait).startswith("accelerator_quota")
    usage = client.get("/api/usage")
    assert usage["accelerator_hours_left"] == 0 and usage["accelerator_hours_used"] >= 0.004
    # no accelerator until the reset; the device itself is free again
    r = client.http.post("/api/notebooks/connect", json={"path": path, "shape": "T4"})
    assert r.status_code == 429 and r.json()["error"]["code"] == "accelerator_quota"
    assert all(not d["holders"] for d in client.get("/api/admin/accelerators")["devices"])
