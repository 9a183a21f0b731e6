"""Completion and help from the notebook's real kernel: REST, WebSocket, while a cell runs, the
``name?`` help page, and the refusals (no runtime, another person's notebook, bad cursor)."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.support.server import ApiFailure, Client, DikteServer, make_person


def _connected(client: Client, sources: list[str]) -> tuple[str, list[str]]:
    path = f"Notebooks/assist-{uuid.uuid4().hex[:8]}.ipynb"
    cells = client.new_notebook(path, sources)
    client.post("/api/notebooks/connect", {"path": path})
    return path, cells


def test_completion_and_help_through_the_api(client: Client) -> None:
    # IPython gives Jedi 400 ms to find each match's type, then leaves it out: more on a busy
    # machine, where that is not enough (the types are what this test is about)
    path, (first,) = _connected(client, [
        "import os, json\nlongish_name = [1, 2, 3]\n"
        "get_ipython().Completer.jedi_compute_type_timeout = 60_000"])
    (done,) = client.run_cells(path, [first])
    assert done["last_status"] == "ok"

    got = client.post("/api/notebooks/complete", {"path": path, "code": "os.pa", "cursor_pos": 5})
    assert "os.path" in got["matches"] or "path" in got["matches"]
    assert got["cursor_end"] == 5
    assert got["cursor_start"] in (0, 3)
    assert len(got["types"]) == len(got["matches"])
    index = got["matches"].index("os.path" if "os.path" in got["matches"] else "path")
    assert got["types"][index] == "module"

    # a name the kernel only knows from the cell that ran; the cursor defaults to the end
    got = client.post("/api/notebooks/complete", {"path": path, "code": "x = longi"})
    assert got["matches"] == ["longish_name"]
    assert (got["cursor_start"], got["cursor_end"]) == (4, 9)

    info = client.post("/api/notebooks/inspect",
                       {"path": path, "code": "os.path.join(", "cursor_pos": 12})
    assert info["found"] is True
    assert "Join two or more pathname components" in info["data"]["text/plain"]
    source = client.post("/api/notebooks/inspect", {"path": path, "code": "json.dumps",
                                                    "detail_level": 1})
    plain = re.sub(r"\x1b\[[0-9;]*m", "", source["data"]["text/plain"])
    assert "def dumps(" in plain  # `??` shows the source
    nothing = client.post("/api/notebooks/inspect", {"path": path, "code": "no_such_name_q"})
    assert nothing == {"found": False, "data": {}}


def test_the_kernel_answers_while_a_cell_runs(client: Client) -> None:
    path, (slow,) = _connected(
        client, ["import time\nbusy_value = 7\nprint('set', flush=True)\ntime.sleep(600)"])
    sock = client.socket(path)
    try:
        sock.send({"type": "execute", "cell_id": slow})
        sock.wait_for(lambda m: m["type"] == "cell_state" and m["cell_id"] == slow
                      and m["state"] == "running")
        sock.wait_for(lambda m: m["type"] == "output" and "set" in str(m))
        # the cell has set busy_value and sleeps: completion sees it through the control channel
        got = client.post("/api/notebooks/complete", {"path": path, "code": "busy_v"})
        assert got["matches"] == ["busy_value"]
        sock.send({"type": "complete", "request_id": "r1", "code": "import o", "cursor_pos": 8})
        reply = sock.wait_for(lambda m: m["type"] == "complete_reply" and m["request_id"] == "r1")
        assert "os" in reply["matches"]
        sock.send({"type": "inspect", "request_id": "r2", "code": "busy_value", "cursor_pos": 4})
        reply = sock.wait_for(lambda m: m["type"] == "inspect_reply" and m["request_id"] == "r2")
        assert reply["found"] and "int" in reply["data"]["text/plain"]
        assert client.view(path)["cells"][slow]["state"] == "running"  # still running all along
        client.post("/api/notebooks/interrupt", {"path": path})
        sock.wait_done(slow, timeout=60)
    finally:
        sock.close()


def test_question_mark_help_reaches_the_viewers_not_the_outputs(client: Client) -> None:
    path, (cell,) = _connected(client, ["import os\nos.path.join?"])
    sock = client.socket(path)
    try:
        sock.send({"type": "execute", "cell_id": cell})
        page = sock.wait_for(lambda m: m["type"] == "help")
        sock.wait_done(cell)
    finally:
        sock.close()
    assert page["cell_id"] == cell
    assert "Join two or more pathname components" in page["data"]["text/plain"]
    view = client.view(path)
    assert view["cells"][cell]["last_status"] == "ok"
    cells = {c["id"]: c for c in view["notebook"]["cells"]}
    assert cells[cell]["outputs"] == []  # a help page is not an output of the cell


def test_refusals_say_why(server: DikteServer, client: Client) -> None:
    path = f"Notebooks/assist-none-{uuid.uuid4().hex[:8]}.ipynb"
    client.new_notebook(path, ["x = 1"])
    with pytest.raises(ApiFailure) as no_runtime:
        client.post("/api/notebooks/complete", {"path": path, "code": "x"})
    assert no_runtime.value.response.status_code == 503
    assert "no connected runtime" in no_runtime.value.response.json()["error"]["message"]

    sock = client.socket(path)
    try:
        sock.send({"type": "inspect", "request_id": "q", "code": "x", "cursor_pos": 1})
        reply = sock.wait_for(lambda m: m["type"] == "inspect_reply")
        assert "Connect one first" in reply["error"]
    finally:
        sock.close()

    connected, _ = _connected(client, ["y = 2"])
    with pytest.raises(ApiFailure) as outside:
        client.post("/api/notebooks/complete", {"path": connected, "code": "y", "cursor_pos": 5})
    assert outside.value.response.status_code == 400
    assert "outside the code" in outside.value.response.json()["error"]["message"]

    # another person asking about this notebook reaches nothing of it: the path is theirs
    _, other = make_person(server, server.client(), f"eve{uuid.uuid4().hex[:6]}")
    with pytest.raises(ApiFailure) as theirs:
        other.post("/api/notebooks/complete", {"path": connected, "code": "y"})
    assert theirs.value.response.status_code == 404
    client.post("/api/notebooks/disconnect", {"path": connected})


def test_the_variables_list_shows_names_types_shapes_and_short_values(client: Client) -> None:
    path, (first, slow) = _connected(client, [
        "import numpy as np, os\nimport json as _hidden_module\n"
        "grid = np.zeros((3, 4))\ncount = 7\nname = 'ada'\nitems = [1, 2, 3]\n"
        "_private = 1\ndef helper():\n    pass",
        "import time\ntime.sleep(600)"])
    (done,) = client.run_cells(path, [first])
    assert done["last_status"] == "ok"
    sock = client.socket(path)
    try:
        sock.send({"type": "variables", "request_id": "v1"})
        reply = sock.wait_for(lambda m: m["type"] == "variables_reply")
        rows = {r["name"]: r for r in reply["variables"]}
        assert set(rows) == {"grid", "count", "name", "items", "helper"}  # no modules, no _names
        assert rows["grid"] == {"name": "grid", "type": "numpy.ndarray", "shape": "(3, 4)",
                                "value": "dtype float64"}
        assert rows["count"] == {"name": "count", "type": "int", "shape": "", "value": "7"}
        assert rows["name"]["value"] == "'ada'" and rows["name"]["shape"] == "3"
        assert rows["items"]["value"] == "[1, 2, 3]"
        assert rows["helper"]["type"] == "function"
        assert reply["more"] == 0
        # silent: the execution count and the outputs did not move
        assert client.view(path)["notebook"]["cells"][0]["execution_count"] == 1

        sock.send({"type": "execute", "cell_id": slow})
        sock.wait_for(lambda m: m["type"] == "cell_state" and m["cell_id"] == slow
                      and m["state"] == "running")
        sock.send({"type": "variables", "request_id": "v2"})
        busy = sock.wait_for(lambda m: m["type"] == "variables_reply" and m["request_id"] == "v2")
        assert busy["error"] == "The kernel is running a cell; the variables are listed when it ends."
        client.post("/api/notebooks/interrupt", {"path": path})
        sock.wait_done(slow, timeout=60)
    finally:
        sock.close()
