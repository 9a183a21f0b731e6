"""A runtime's life through the server: usage, disconnect, limits, control-plane restarts."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from tests.support.procs import runtime_processes
from tests.support.server import Client, DikteServer, cell_text


def _processes_of(runtime_id: str) -> list[psutil.Process]:
    return runtime_processes(runtime_id)


def _run(client: Client, path: str, cell_id: str, timeout: float = 60) -> dict:
    return client.run_cells(path, [cell_id], timeout)[0]


def test_usage_sessions_and_disconnect_delete(server: DikteServer, client: Client) -> None:
    path = "Notebooks/usage.ipynb"
    (cid,) = client.new_notebook(path, [
        "ballast = b'x' * (200 * 2**20)\n"
        "open('/content/blob', 'wb').write(b'y' * (30 * 2**20))"])
    info = client.post("/api/notebooks/connect", {"path": path})
    rid = info["runtime_id"]
    _run(client, path, cid)
    (session,) = [s for s in client.get("/api/sessions") if s["runtime_id"] == rid]
    assert session["notebook_path"] == path
    assert session["memory_bytes"] > 200 * 2**20
    assert session["memory_limit"] == 2 * 2**30
    assert session["disk_bytes"] >= 30 * 2**20
    instance = server.data_dir / "runtimes" / rid
    assert instance.is_dir() and _processes_of(rid)

    client.post("/api/notebooks/disconnect", {"path": path})
    assert rid not in [s["runtime_id"] for s in client.get("/api/sessions")]
    assert not instance.exists()
    assert _processes_of(rid) == []
    view = client.view(path)
    assert view["runtime"] is None and cell_text(view, cid) == str(30 * 2**20)  # kept


def test_terminate_from_manage_sessions(client: Client) -> None:
    path = "Notebooks/terminate.ipynb"
    client.new_notebook(path, ["1"])
    rid = client.post("/api/notebooks/connect", {"path": path})["runtime_id"]
    client.call("DELETE", f"/api/sessions/{rid}")
    assert client.view(path)["runtime"] is None
    assert _processes_of(rid) == []


ESCAPE = """
import os, signal
results = {}
for p in [SECRET, DATA_DIR, '/content/drive/MyDrive/../../..']:
    try:
        results[p] = sorted(os.listdir(p)) if os.path.isdir(p) else open(p, 'rb').read(10)
    except OSError as e:
        results[p] = type(e).__name__
try:
    open('/usr/pwned', 'w')
    results['usr'] = 'WROTE'
except OSError as e:
    results['usr'] = type(e).__name__
try:
    os.kill(SERVER_PID, signal.SIGTERM)
    results['kill'] = 'SENT'
except OSError as e:
    results['kill'] = type(e).__name__
print(results, os.getuid())
"""


def test_escape_attempts_from_a_cell_fail(server: DikteServer, client: Client) -> None:
    path = "Notebooks/escape.ipynb"
    secret = server.data_dir / "dikte.db"
    assert server.proc is not None
    code = (ESCAPE.replace("SECRET", repr(str(secret)))
            .replace("DATA_DIR", repr(str(server.data_dir)))
            .replace("SERVER_PID", str(server.proc.pid)))
    (cid,) = client.new_notebook(path, [code])
    _run(client, path, cid)
    text = cell_text(client.view(path), cid)
    assert "SENT" not in text
    assert f"'{secret}': 'FileNotFoundError'" in text
    assert f"'{server.data_dir}': 'FileNotFoundError'" in text
    # the runtime is root of its own user namespace: /usr is its own writable layer...
    assert "'usr': 'WROTE'" in text and text.rstrip().split()[-1] == "0"
    assert not Path("/usr/pwned").exists()  # ...and the host's /usr is untouched
    assert server.proc.poll() is None  # the server lives on


def test_the_memory_limit_restarts_the_kernel_with_a_clear_message(
        fresh_server: Callable[..., DikteServer]) -> None:
    srv = fresh_server(DIKTE_RUNTIME_MEMORY="300MiB").start()
    client = srv.client()
    path = "Notebooks/oom.ipynb"
    hog, after = client.new_notebook(path, ["x = b'x' * (2**30)", "print('alive again')"])
    client.post("/api/notebooks/connect", {"path": path})
    sock = client.socket(path)
    try:
        sock.send({"type": "execute", "cell_id": hog})
        notice = sock.wait_for(lambda m: m["type"] == "notice")
        assert notice["message"] == ("Your runtime restarted after using all available RAM "
                                     "(limit 300 MiB).")
        done = sock.wait_done(hog)
        assert done["last_status"] == "error"
        sock.wait_for(lambda m: m["type"] == "runtime" and m["status"] == "connected"
                      and m["message"])
        sock.send({"type": "execute", "cell_id": after})
        sock.wait_done(after)
    finally:
        sock.close()
    view = client.view(path)
    assert "all available RAM" in cell_text(view, hog)
    assert cell_text(view, after).strip() == "alive again"


def test_a_restarted_control_plane_reattaches_to_live_runtimes(
        fresh_server: Callable[..., DikteServer]) -> None:
    srv = fresh_server().start()
    token = srv.token
    client = srv.client()
    path = "Notebooks/reattach.ipynb"
    setup, loop, check = client.new_notebook(path, [
        "marker = 'same kernel'",
        "import time\nfor i in range(24):\n    print('step', i, flush=True)\n    time.sleep(0.5)",
        "print(marker)",
    ])
    rid = client.post("/api/notebooks/connect", {"path": path})["runtime_id"]
    _run(client, path, setup)
    sock = client.socket(path)
    sock.send({"type": "execute", "cell_id": loop})
    sock.wait_for(lambda m: m["type"] == "output" and m["cell_id"] == loop)
    sock.close()
    srv.stop()  # the server goes away mid-cell; the runtime must not
    assert _processes_of(rid)
    time.sleep(1.0)  # the cell keeps printing while no server listens
    srv.start()
    client = srv.client(token)
    sock = client.socket(path)
    try:
        snapshot = sock.wait_for(lambda m: m["type"] == "snapshot")
        assert snapshot["runtime"]["runtime_id"] == rid
        if snapshot["cells"][loop]["last_status"] is None:
            sock.wait_done(loop, timeout=30)
        sock.send({"type": "execute", "cell_id": check})
        sock.wait_done(check)
    finally:
        sock.close()
    view = client.view(path)
    assert cell_text(view, check).strip() == "same kernel"
    loop_text = cell_text(view, loop)
    assert "server restarted while this cell was starting or running" in loop_text
    assert "step 23" in loop_text  # printed after the restart (12 s: a slow restart fits)
    assert view["cells"][loop]["state"] == "idle"


def test_runtimes_gone_while_the_server_was_down_are_reaped(
        fresh_server: Callable[..., DikteServer]) -> None:
    srv = fresh_server().start()
    token = srv.token
    client = srv.client()
    path = "Notebooks/reap.ipynb"
    client.new_notebook(path, ["1"])
    rid = client.post("/api/notebooks/connect", {"path": path})["runtime_id"]
    srv.stop()
    for proc in _processes_of(rid):
        with contextlib.suppress(psutil.NoSuchProcess):  # gone with its parent meanwhile
            proc.kill()
    srv.start()
    client = srv.client(token)
    assert client.view(path)["runtime"] is None
    assert client.get("/api/sessions") == []
    assert not Path(srv.data_dir / "runtimes" / rid).exists()


def test_the_server_on_postgresql(fresh_server: Callable[..., DikteServer],
                                  postgres_db: str) -> None:
    srv = fresh_server(DIKTE_DATABASE_URL=postgres_db).start()
    token = srv.token
    client = srv.client()
    path = "Notebooks/pg.ipynb"
    (cid,) = client.new_notebook(path, ["print('on postgres')"])
    rid = client.post("/api/notebooks/connect", {"path": path})["runtime_id"]
    _run(client, path, cid)
    srv.stop()
    srv.start()  # the runtime record in PostgreSQL brings it back
    client = srv.client(token)
    assert [s["runtime_id"] for s in client.get("/api/sessions")] == [rid]
    assert cell_text(client.view(path), cid).strip() == "on postgres"


@pytest.mark.skipif(os.geteuid() == 0, reason="as root a runtime's disk is a file system of the "
                    "limit's size: writes past it fail with ENOSPC and the runtime is kept "
                    "(tests/security/test_limits.py); the measured limit is for other installs")
def test_past_the_disk_limit_the_runtime_is_stopped_with_the_reason(
        fresh_server: Callable[..., DikteServer]) -> None:
    srv = fresh_server(DIKTE_RUNTIME_DISK="20MiB", DIKTE_DISK_CHECK_SECONDS="0.5").start()
    client = srv.client()
    path = "Notebooks/disk.ipynb"
    (fill,) = client.new_notebook(path, [
        "open('/content/big.bin', 'wb').write(b'z' * (40 * 2**20))\n"
        "import time; time.sleep(30)"])
    rid = client.post("/api/notebooks/connect", {"path": path})["runtime_id"]
    sock = client.socket(path)
    try:
        sock.send({"type": "execute", "cell_id": fill})
        gone = sock.wait_for(lambda m: m["type"] == "runtime" and m["status"] == "disconnected")
    finally:
        sock.close()
    assert "over the limit of 20 MiB" in gone["message"] and "drive is kept" in gone["message"]
    assert not (srv.data_dir / "runtimes" / rid).exists()
    assert _processes_of(rid) == []
    view = client.view(path)
    assert view["runtime"] is None
    assert "over the limit of 20 MiB" in cell_text(view, fill)  # the note is saved in the cell
