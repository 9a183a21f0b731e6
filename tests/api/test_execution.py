"""Running cells through the real server, a real sandboxed kernel and the notebook WebSocket."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.server import Client, DikteServer, cell_text


def test_cells_run_in_click_order_while_the_first_sleeps(client: Client) -> None:
    path = "Notebooks/order.ipynb"
    a, b, c = client.new_notebook(path, [
        "import time; time.sleep(1.5); order = ['a']",
        "order.append('b')",
        "order.append('c'); print(order)",
    ])
    sock = client.socket(path)
    try:
        for cid in (a, b, c):
            sock.send({"type": "execute", "cell_id": cid})
        queued = sock.wait_for(lambda m: m["type"] == "cell_state" and m["cell_id"] == c
                               and m["state"] == "queued")
        assert queued["position"] >= 1
        sock.wait_done(c, timeout=90)
    finally:
        sock.close()
    states = [m for m in sock.messages if m["type"] == "cell_state"]
    started = [m["cell_id"] for m in states if m["state"] == "running"]
    assert started == [a, b, c]
    view = client.view(path)
    assert cell_text(view, c).strip() == "['a', 'b', 'c']"
    counts = [cell["execution_count"] for cell in view["notebook"]["cells"]]
    assert counts == sorted(counts) and None not in counts


def test_outputs_keep_arriving_and_are_saved_with_no_client(server: DikteServer,
                                                            client: Client) -> None:
    path = "Notebooks/background.ipynb"
    (cid,) = client.new_notebook(path, [
        "import time\nfor i in range(6):\n    print('tick', i, flush=True)\n    time.sleep(0.5)"])
    sock = client.socket(path)
    sock.send({"type": "execute", "cell_id": cid})
    sock.wait_for(lambda m: m["type"] == "cell_state" and m["state"] == "running")
    sock.close()  # nobody watches from here on
    on_disk = server.data_dir / "drives" / "1" / path
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        nb = json.loads(on_disk.read_text())
        outs = nb["cells"][0]["outputs"]
        if outs and "tick 5" in "".join("".join(o.get("text", "")) for o in outs):
            break
        time.sleep(0.3)
    text = "".join("".join(o["text"]) for o in outs)  # on disk, text is a list of lines
    assert text == "".join(f"tick {i}\n" for i in range(6))
    sock = client.socket(path)
    try:
        snapshot = sock.wait_for(lambda m: m["type"] == "snapshot")
        outs = snapshot["notebook"]["cells"][0]["outputs"]
        assert "".join(o["text"] for o in outs) == text
        assert snapshot["cells"][cid]["last_status"] == "ok"
    finally:
        sock.close()


def test_interrupt_stops_the_running_cell_and_cancel_empties_the_queue(client: Client) -> None:
    path = "Notebooks/interrupt.ipynb"
    slow, later = client.new_notebook(path, ["import time; time.sleep(60)", "print('later')"])
    sock = client.socket(path)
    try:
        sock.send({"type": "execute", "cell_id": slow})
        sock.send({"type": "execute", "cell_id": later})
        sock.wait_for(lambda m: m["type"] == "cell_state" and m["cell_id"] == slow
                      and m["state"] == "running")
        cancelled = client.post("/api/notebooks/cancel", {"path": path})["queued"]
        assert cancelled == [later]
        client.post("/api/notebooks/interrupt", {"path": path})
        done = sock.wait_done(slow, timeout=30)
        assert done["last_status"] == "error"
    finally:
        sock.close()
    view = client.view(path)
    assert "KeyboardInterrupt" in cell_text(view, slow)
    assert view["cells"][later]["last_status"] == "cancelled"
    assert cell_text(view, later) == ""


def test_restart_forgets_variables_but_keeps_content_files(client: Client) -> None:
    path = "Notebooks/restart.ipynb"
    setup, check = client.new_notebook(path, [
        "x = 41\nopen('/content/kept.txt', 'w').write('still here')",
        "import os\nprint('x' in globals(), open('/content/kept.txt').read())",
    ])
    sock = client.socket(path)
    try:
        sock.send({"type": "execute", "cell_id": setup})
        sock.wait_done(setup)
        info = client.post("/api/notebooks/restart", {"path": path})
        assert info["status"] == "connected"
        sock.send({"type": "execute", "cell_id": check})
        sock.wait_done(check)
    finally:
        sock.close()
    assert cell_text(client.view(path), check).strip() == "False still here"


def test_input_and_getpass_round_trip(client: Client) -> None:
    path = "Notebooks/stdin.ipynb"
    (cid,) = client.new_notebook(path, [
        "import getpass\nname = input('Name: ')\nsecret = getpass.getpass('Secret: ')\n"
        "print(name.upper(), len(secret))"])
    sock = client.socket(path)
    try:
        sock.send({"type": "execute", "cell_id": cid})
        req = sock.wait_for(lambda m: m["type"] == "input_request")
        assert req["prompt"] == "Name: " and req["password"] is False
        sock.send({"type": "input_reply", "value": "ada"})
        req = sock.wait_for(lambda m: m["type"] == "input_request" and m["password"])
        assert req["prompt"] == "Secret: "
        client.post("/api/notebooks/input", {"path": path, "value": "hunter2"})  # REST works too
        sock.wait_done(cid)
    finally:
        sock.close()
    # the prompts and the answer stay in the output, the password's answer does not
    assert cell_text(client.view(path), cid) == "Name: ada\nSecret: \nADA 7\n"


def test_tqdm_display_updates_and_clear_output(client: Client) -> None:
    path = "Notebooks/rich.ipynb"
    bar, disp, clear = client.new_notebook(path, [
        "from tqdm import tqdm\nimport sys\n"
        "for i in tqdm(range(50), file=sys.stdout, mininterval=0, ascii=True): pass",
        "from IPython.display import display, update_display\n"
        "h = display('first', display_id=True)\nh.update('second')\n"
        "update_display('third', display_id=h.display_id)",
        "from IPython.display import clear_output\nimport time\n"
        "for i in range(3):\n    clear_output(wait=True)\n    print('step', i)",
    ])
    sock = client.socket(path)
    try:
        for cid in (bar, disp, clear):
            sock.send({"type": "execute", "cell_id": cid})
        sock.wait_done(clear)
    finally:
        sock.close()
    view = client.view(path)
    cells = {c["id"]: c for c in view["notebook"]["cells"]}
    bar_text = cells[bar]["outputs"][0]["text"]
    assert bar_text.count("\n") == 1 and "50/50" in bar_text and "\r" not in bar_text
    outs = cells[disp]["outputs"]
    assert len(outs) == 1 and outs[0]["data"]["text/plain"] == "'third'"
    assert cells[clear]["outputs"] == [{"output_type": "stream", "name": "stdout",
                                        "text": "step 2\n"}]
    # viewers saw the display update as a replace (or, merged with it, in the append), not a
    # second output
    seen: list[dict[str, Any]] = []
    for m in sock.messages:
        if m["type"] == "output" and m["cell_id"] == disp:
            _apply(seen, m["change"])
    assert seen == outs


def test_an_error_marks_the_cell_and_cancels_the_cells_after_it(client: Client) -> None:
    path = "Notebooks/error.ipynb"
    bad, after = client.new_notebook(path, ["1/0", "print('not run')"])
    result = client.post("/api/notebooks/run", {"path": path, "mode": "all"})
    assert result["queued"] == [bad, after]
    sock = client.socket(path)
    try:
        sock.wait_for(lambda m: m["type"] == "snapshot")
        view = client.view(path)
        if view["cells"][after]["last_status"] is None:
            sock.wait_done(after)
    finally:
        sock.close()
    view = client.view(path)
    assert view["cells"][bad]["last_status"] == "error"
    assert view["cells"][after]["last_status"] == "cancelled"
    err = view["notebook"]["cells"][0]["outputs"][0]
    assert err["output_type"] == "error" and err["ename"] == "ZeroDivisionError"


def test_run_before_and_after(client: Client) -> None:
    path = "Notebooks/ranges.ipynb"
    one, two, three = client.new_notebook(path, ["a = 1", "b = 2", "print(a + b)"])
    before = client.post("/api/notebooks/run", {"path": path, "mode": "before", "anchor": three})
    assert before["queued"] == [one, two]
    sock = client.socket(path)
    try:
        if client.view(path)["cells"][two]["last_status"] is None:
            sock.wait_done(two)
        after = client.post("/api/notebooks/run", {"path": path, "mode": "after", "anchor": three})
        assert after["queued"] == [three]
        sock.wait_done(three)
    finally:
        sock.close()
    assert cell_text(client.view(path), three).strip() == "3"


def test_a_stale_source_hash_is_refused(client: Client) -> None:
    path = "Notebooks/stale.ipynb"
    (cid,) = client.new_notebook(path, ["print('v1')"])
    r = client.http.post("/api/notebooks/run", json={
        "path": path, "cell_ids": [cid], "source_hashes": {cid: "0" * 64}})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "stale_source"


def test_output_is_capped_with_a_visible_note(fresh_server: object, tmp_path: Path) -> None:
    srv: DikteServer = fresh_server("--unsafe-no-sandbox",  # type: ignore[operator]
                                    DIKTE_OUTPUT_MAX_LINES="100").start()
    client = srv.client()
    path = "Notebooks/big.ipynb"
    (cid,) = client.new_notebook(path, ["for i in range(5000): print(i)\nprint('end')"])
    sock = client.socket(path)
    try:
        sock.send({"type": "execute", "cell_id": cid})
        sock.wait_done(cid)
        client.post("/api/notebooks/disconnect", {"path": path})
    finally:
        sock.close()
    text = cell_text(client.view(path), cid)
    assert "Output truncated" in text and "100" in text
    assert text.count("\n") < 200


def _apply(outputs: list[dict[str, Any]], change: dict[str, Any]) -> None:
    """An output delta, applied the way the browser does."""
    if change["kind"] == "clear":
        outputs.clear()
    elif change["kind"] == "append":
        assert change["index"] == len(outputs)
        outputs.append(change["output"])
    elif change["kind"] == "replace":
        outputs[change["index"]] = change["output"]
    else:
        old = outputs[change["index"]]
        outputs[change["index"]] = {**old, "text": old["text"][:change["keep"]] + change["text"]}


def test_a_cell_printing_fast_sends_few_merged_deltas_and_loses_nothing(
        fresh_server: Callable[..., DikteServer]) -> None:
    """Issue 11, item 13: 50,000 lines printed as fast as the kernel sends them reach the viewer
    in far fewer messages than lines, its copy equals the stored one, and the cell's idle state
    comes after its last output."""
    lines = 50_000
    client = fresh_server(DIKTE_OUTPUT_MAX_LINES=str(2 * lines)).start().client()
    path = "Notebooks/chatty.ipynb"
    (cid,) = client.new_notebook(path, [
        f"for i in range({lines}):\n    print('line', i, flush=True)"])
    sock = client.socket(path)
    try:
        sock.wait_for(lambda m: m["type"] == "snapshot")
        sock.send({"type": "execute", "cell_id": cid})
        sock.wait_done(cid, timeout=180)
        time.sleep(0.3)  # anything (wrongly) sent after the idle state would arrive meanwhile
    finally:
        sock.close()
    msgs = sock.messages
    assert [m["type"] for m in msgs].count("snapshot") == 1  # it never fell behind
    outputs: list[dict[str, Any]] = []
    deltas = 0
    for m in msgs:
        if m["type"] == "output" and m["cell_id"] == cid:
            _apply(outputs, m["change"])
            deltas += 1
    stored = next(c for c in client.view(path)["notebook"]["cells"] if c["id"] == cid)["outputs"]
    assert outputs == stored
    # every line kept: none dropped between the kernel and the server (ZeroMQ's default queue
    # of 1,000 messages overflowed in a pause of the event loop and lost some, silently)
    assert "".join(o["text"] for o in stored) == "".join(f"line {i}\n" for i in range(lines))
    assert deltas < lines / 50, deltas
    done = max(i for i, m in enumerate(msgs) if m["type"] == "cell_state"
               and m["cell_id"] == cid and m["state"] == "idle")
    last_output = max(i for i, m in enumerate(msgs) if m["type"] == "output")
    assert last_output < done


def test_an_interrupt_right_after_run_stops_the_cell(client: Client) -> None:
    """Interrupt clicked at once after Run: the kernel may not have begun the cell yet (ipykernel
    ignores an interrupt between cells), so the server interrupts it as soon as it begins."""
    path = f"Notebooks/early-interrupt-{uuid.uuid4().hex[:8]}.ipynb"
    (slow,) = client.new_notebook(path, ["import time\ntime.sleep(600)"])
    client.post("/api/notebooks/connect", {"path": path})
    sock = client.socket(path)
    try:
        for attempt in range(3):
            sock.send({"type": "execute", "cell_id": slow})
            sock.send({"type": "interrupt"})
            done = sock.wait_for(lambda m: m["type"] == "cell_state" and m["cell_id"] == slow
                                 and m["state"] == "idle" and m.get("last_status") is not None
                                 and m.get("_seen") is None, timeout=60)
            done["_seen"] = attempt  # the next attempt waits for a new message
            assert done["last_status"] in ("error", "interrupted"), done
        assert "KeyboardInterrupt" in str(client.view(path)["notebook"]["cells"][0]["outputs"])
    finally:
        sock.close()
