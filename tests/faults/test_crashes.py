"""kill -9 of the control plane at random moments (see tests/faults/harness.py).

Each test is one scenario; ``DIKTE_FAULT_KILLS`` sets how many kills each makes (default 2,
hundreds for the record in docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.faults.harness import (
    Background,
    Tally,
    kill_and_restart,
    kills,
    leftovers,
    live_ids,
    note_runtimes,
    rng,
    settled,
    temp_files,
    validate,
    wait,
)
from tests.support.server import ApiFailure, Client, DikteServer, NotebookSocket, cell_text

pytestmark = pytest.mark.timeout(1800)

CELL = """\
import os, time
with open('/content/drive/MyDrive/round.txt') as f:
    r = f.read().strip()
with open('/content/drive/MyDrive/ran.log', 'a') as f:
    f.write(f'{{r}}:{n}\\n')
    f.flush()
    os.fsync(f.fileno())
print('cell {n} of round', r)
time.sleep({pause})
"""


def _no_temp_files(srv: DikteServer) -> None:
    """No temp file stays (one of a save under way comes and goes)."""
    wait(lambda: not temp_files(srv), 60, f"temp files to go: {temp_files(srv)}")


def _no_leftovers(srv: DikteServer, live: set[str], since: float) -> None:
    assert leftovers(srv, live, since) == []
    _no_temp_files(srv)


def test_no_cell_runs_twice_and_runtimes_come_back(
        fresh_server: Callable[..., DikteServer]) -> None:
    """Cells that append a line to a file on the drive run while the server is killed: after
    each restart the same runtime is back, the queue goes on, and no line appears twice."""
    rand, seed = rng("cells")
    tally = Tally()
    since = time.time()
    srv = fresh_server().start()
    client = srv.client()
    path = "Notebooks/twice.ipynb"
    ids = client.new_notebook(path, [CELL.format(n=n, pause=0.05 * (n % 4)) for n in range(24)])
    drive = next((srv.data_dir / "drives").iterdir())
    rid = client.post("/api/notebooks/connect", {"path": path})["runtime_id"]
    for round_no in range(kills()):
        (drive / "round.txt").write_text(str(round_no))
        client.post("/api/notebooks/run", {"path": path, "mode": "all"})
        time.sleep(rand.uniform(0.0, 1.2))  # the moment of the kill: the point of the test
        client = kill_and_restart(srv)
        tally.kills += 1
        assert live_ids(client) == {rid}, f"seed {seed}: the runtime was not re-attached"
        wait(lambda c=client: settled(c, path), 300, "the queue to finish after the restart")
        validate(srv, path)
        _no_leftovers(srv, {rid}, since)
        lines = (drive / "ran.log").read_text().split()
        twice = sorted({x for x in lines if lines.count(x) > 1})
        assert not twice, f"seed {seed}: cells ran twice: {twice}"
        ran = [x for x in lines if x.startswith(f"{round_no}:")]
        tally.add("cells run", len(ran))
        view = client.view(path)
        tally.add("cells said the server restarted", sum(
            "server restarted" in cell_text(view, c) for c in ids))
    tally.report("cells")


def test_an_acknowledged_edit_survives_a_kill(fresh_server: Callable[..., DikteServer]) -> None:
    """Edits stream over the WebSocket; the server is killed; every edit whose echo came back
    is in the notebook afterwards."""
    rand, seed = rng("edits")
    tally = Tally()
    srv = fresh_server().start()
    client = srv.client()
    path = "Notebooks/edits.ipynb"
    (cid,) = client.new_notebook(path, ["v0"])
    for _ in range(kills()):
        sock = client.socket(path)
        sent = 0

        def send_edits(sock: NotebookSocket = sock) -> None:
            nonlocal sent
            while True:  # until the server is gone: edits are in flight when it is killed
                sent += 1
                try:
                    sock.send({"type": "edit", "ops": [
                        {"op": "set_source", "cell_id": cid, "source": f"v{sent}"}]})
                except Exception:
                    return
                time.sleep(0.001)

        try:
            sock.wait_for(lambda m: m["type"] == "snapshot")
            sender = threading.Thread(target=send_edits, daemon=True)
            sender.start()
            time.sleep(rand.uniform(0.2, 1.5))  # the moment of the kill
            srv.stop(9)
            sender.join(30)
        finally:
            with contextlib.suppress(Exception):
                sock.close()
        acked = [int(op["source"][1:]) for m in sock.messages if m["type"] == "edited"
                 for op in m["ops"] if op["op"] == "set_source"]
        srv.start(timeout=120)
        client = srv.client()
        tally.kills += 1
        source = next(c["source"] for c in client.view(path)["notebook"]["cells"]
                      if c["id"] == cid)
        kept = int(source[1:])
        if acked:
            assert kept >= max(acked), (
                f"seed {seed}: edit v{max(acked)} was acknowledged but the notebook has "
                f"{source}")
        assert kept <= sent
        tally.add("edits sent", sent)
        tally.add("edits acknowledged", len(acked))
        tally.add("unacknowledged edits kept", kept - max(acked, default=0))
        validate(srv, path)
        _no_temp_files(srv)
    tally.report("edits")


def test_a_kill_during_connect_leaves_a_runtime_or_nothing(
        fresh_server: Callable[..., DikteServer]) -> None:
    rand, seed = rng("connect")
    tally = Tally()
    since = time.time()
    srv = fresh_server().start()
    client = srv.client()
    path = "Notebooks/connect.ipynb"
    (cid,) = client.new_notebook(path, ["print('alive')"])
    for _ in range(kills()):
        call = Background(lambda c=client: c.post("/api/notebooks/connect", {"path": path}))
        time.sleep(rand.uniform(0.0, 1.0))
        client = kill_and_restart(srv)
        call.join()
        tally.kills += 1
        live = live_ids(client)
        tally.add("runtime kept" if live else "nothing kept")
        _no_leftovers(srv, live, since)
        if live:  # kept: it works
            assert "alive" in cell_text(_run(client, path, cid), cid), f"seed {seed}"
            client.post("/api/notebooks/disconnect", {"path": path})
        _no_leftovers(srv, set(), since)
    tally.report("connect")


def test_a_kill_during_a_kernel_restart_keeps_the_runtime(
        fresh_server: Callable[..., DikteServer]) -> None:
    rand, seed = rng("restart")
    tally = Tally()
    since = time.time()
    srv = fresh_server().start()
    client = srv.client()
    path = "Notebooks/restart.ipynb"
    setup, check = client.new_notebook(path, [
        "open('/content/mark.txt', 'w').write('kept')",
        "print(open('/content/mark.txt').read())"])
    rid = client.post("/api/notebooks/connect", {"path": path})["runtime_id"]
    _run(client, path, setup)
    for _ in range(kills()):
        sock = client.socket(path)
        try:
            sock.send({"type": "restart"})
            sock.wait_for(lambda m: m["type"] == "runtime" and m["status"] == "restarting")
            time.sleep(rand.uniform(0.0, 0.8))
        finally:
            sock.close()
        client = kill_and_restart(srv)
        tally.kills += 1
        assert live_ids(client) == {rid}, f"seed {seed}: the runtime was lost"
        assert "kept" in cell_text(_run(client, path, check), check), f"seed {seed}"
        _no_leftovers(srv, {rid}, since)
    tally.add("new kernel in the kept instance space",
              srv.log_text().count("a new one runs in the same instance space"))
    tally.report("restart")


def test_a_kill_during_disconnect_leaves_the_runtime_or_nothing(
        fresh_server: Callable[..., DikteServer]) -> None:
    rand, seed = rng("disconnect")
    tally = Tally()
    since = time.time()
    srv = fresh_server().start()
    client = srv.client()
    path = "Notebooks/disconnect.ipynb"
    (cid,) = client.new_notebook(path, ["print('alive')"])
    for _ in range(kills()):
        client.post("/api/notebooks/connect", {"path": path})
        call = Background(lambda c=client: c.post("/api/notebooks/disconnect", {"path": path}))
        time.sleep(rand.uniform(0.0, 0.5))
        client = kill_and_restart(srv)
        call.join()
        tally.kills += 1
        live = live_ids(client)
        tally.add("runtime kept" if live else "runtime gone")
        _no_leftovers(srv, live, since)
        if live:
            assert "alive" in cell_text(_run(client, path, cid), cid), f"seed {seed}"
            client.post("/api/notebooks/disconnect", {"path": path})
        _no_leftovers(srv, set(), since)
    tally.report("disconnect")


def test_disconnect_during_connect_ends_the_runtime(
        fresh_server: Callable[..., DikteServer]) -> None:
    """Item 4 of the crash report: a disconnect while the runtime starts wins; the connect is
    told so, nothing keeps running, and nothing comes back after a restart."""
    since = time.time()
    srv = fresh_server().start()
    client = srv.client()
    path = "Notebooks/race.ipynb"
    client.new_notebook(path, ["1"])
    call = Background(lambda: client.post("/api/notebooks/connect", {"path": path}))
    wait(lambda: client.view(path)["runtime"], 60, "the runtime to be starting")
    wait(lambda: note_runtimes(srv), 60, "its instance space")
    client.post("/api/notebooks/disconnect", {"path": path})
    call.join()
    if call.error is not None:  # the disconnect came while it started (else it came after)
        assert isinstance(call.error, ApiFailure), call.error
        assert call.error.response.json()["error"]["code"] == "disconnected_while_starting"
    assert client.get("/api/sessions") == []
    wait(lambda: not leftovers(srv, set(), since), 60, "the runtime's processes to end")
    srv.stop()
    srv.start()
    assert srv.client().get("/api/sessions") == []
    assert leftovers(srv, set(), since) == []


def _run(client: Client, path: str, cid: str) -> dict[str, Any]:
    sock: NotebookSocket = client.socket(path)
    try:
        sock.send({"type": "execute", "cell_id": cid})
        sock.wait_done(cid, timeout=120)
    finally:
        sock.close()
    return dict(client.view(path))
