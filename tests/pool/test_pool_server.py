"""A server keeping runtimes started ahead (runtime_pool): a connect gets one, with the person's
drive, and the pool refills; a server killed with a full pool leaves nothing running."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any

from tests.runtimes.runtime_helpers import UID_BASE
from tests.support.procs import runtime_processes
from tests.support.server import Client, DikteServer, cell_text

PATH = "Notebooks/pooled.ipynb"


def wait_until(what: str, check: Callable[[], Any], timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout} s")


def ready(client: Client) -> list[str]:
    (shelf,) = client.get("/api/admin/pool")["shelves"]
    return list(shelf["ready"])


def test_a_connect_gets_a_runtime_started_ahead_with_the_persons_drive(
        fresh_server: Callable[..., DikteServer]) -> None:
    server = fresh_server(DIKTE_RUNTIME_POOL="1").start()
    client = server.client()
    info = client.get("/api/admin/pool")
    assert (info["on"], info["size"]) == (True, 1)
    (waiting,) = wait_until("a runtime ready", lambda: ready(client))

    ids = client.new_notebook(PATH, [
        "import os\nopen('/content/drive/MyDrive/from-pooled.txt', 'w').write('kept')\n"
        "print(os.getuid(), sorted(os.listdir('/content')))"])
    connected = client.post("/api/notebooks/connect", {"path": PATH})
    assert connected["runtime_id"] == waiting  # the one started ahead
    (state,) = client.run_cells(PATH, ids)
    assert state["last_status"] == "ok", client.view(PATH)["notebook"]["cells"][0]["outputs"]
    assert cell_text(client.view(PATH), ids[0]) == "0 ['drive']\n"
    me = client.get("/api/me")["id"]
    written = server.data_dir / "drives" / str(me) / "from-pooled.txt"
    assert written.read_text() == "kept" and written.stat().st_uid == UID_BASE + me
    assert client.http.get("/api/drive/files/from-pooled.txt").content == b"kept"
    # the pool refills with another runtime; the given one is nobody's to give again
    (refill,) = wait_until("the pool refilled", lambda: ready(client))
    assert refill != waiting and client.get("/api/admin/pool")["given"] == 1
    client.post("/api/notebooks/disconnect", {"path": PATH})


def test_a_server_killed_with_runtimes_started_ahead_leaves_none_running(
        fresh_server: Callable[..., DikteServer]) -> None:
    server = fresh_server(DIKTE_RUNTIME_POOL="2").start()
    client = server.client()
    first = wait_until("two ready", lambda: len(ready(client)) == 2 and ready(client))
    server.stop(signal.SIGKILL)
    assert all((server.data_dir / "runtimes" / rid).is_dir() for rid in first)

    server.start(timeout=120)
    client = server.client()
    second = wait_until("two ready again", lambda: len(ready(client)) == 2 and ready(client))
    assert not set(first) & set(second)
    assert not any((server.data_dir / "runtimes" / rid).exists() for rid in first)
    server.stop(signal.SIGTERM)  # a server stopping stops the runtimes nobody was given
    assert not any((server.data_dir / "runtimes" / rid).exists() for rid in second)
    # nothing of any of them runs: not the first ones (ended by the sweep at start-up), nor
    # the second (stopped with the server)
    assert [p.pid for rid in (*first, *second) for p in runtime_processes(rid)] == []


def test_a_given_runtime_outlives_a_killed_server_and_keeps_its_drive_across_a_restart(
        fresh_server: Callable[..., DikteServer]) -> None:
    server = fresh_server(DIKTE_RUNTIME_POOL="1").start()
    client = server.client()
    (waiting,) = wait_until("a runtime ready", lambda: ready(client))
    ids = client.new_notebook(PATH, [
        "x = 41",
        "print(x + 1, open('/content/drive/MyDrive/note.txt').read())"])
    client.call("PUT", "/api/drive/files/note.txt", content=b"on the drive")
    assert client.post("/api/notebooks/connect", {"path": PATH})["runtime_id"] == waiting
    client.run_cells(PATH, ids[:1])

    server.stop(signal.SIGKILL)
    server.start(timeout=120)
    client = server.client()
    (state,) = client.run_cells(PATH, ids[1:])  # the same kernel: x is still there
    assert cell_text(client.view(PATH), ids[1]) == "42 on the drive\n", state
    # a kernel restart binds the drive again (from the runtime's view, not from the pool)
    client.post("/api/notebooks/restart", {"path": PATH})
    client.run_cells(PATH, ids[:1])
    client.run_cells(PATH, ids[1:])
    assert cell_text(client.view(PATH), ids[1]) == "42 on the drive\n"
    client.post("/api/notebooks/disconnect", {"path": PATH})
