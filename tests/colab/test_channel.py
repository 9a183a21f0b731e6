"""The runtime channel through a real server and real sandboxed kernels; a notebook WebSocket
that sends ``channel_ready`` plays the browser tab (tests/e2e/test_colab_browser.py uses a real
browser).

Token scoping, browser requests (eval_js, files.upload, files.download) and their errors (no
tab, a timeout, a tab that closes, an interrupt), callbacks from JavaScript, runtime.unassign().
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from dikte.bridge.channel import RuntimeChannel, content_relative, runtime_token
from dikte.runtimes import netns
from tests.support.server import Client, DikteServer, NotebookSocket, cell_text

COLAB = "from google.colab import files, output, runtime\n"
ENV = "import os, json\nprint(json.dumps({k: os.environ.get(k) for k in " \
      "('DIKTE_CONTROL_URL', 'DIKTE_RUNTIME_ID', 'DIKTE_RUNTIME_TOKEN')}))"


def _tab(client: Client, path: str) -> NotebookSocket:
    """A notebook WebSocket that says it answers the notebook's code, as the web app does."""
    sock = client.socket(path)
    sock.wait_for(lambda m: m["type"] == "snapshot")
    sock.send({"type": "channel_ready"})
    return sock


def _request(sock: NotebookSocket, kind: str, cell_id: str) -> dict[str, Any]:
    return sock.wait_for(lambda m: m["type"] == "channel_request" and m["kind"] == kind
                         and m["cell_id"] == cell_id, timeout=60)


def _run(sock: NotebookSocket, cell_id: str) -> None:
    sock.send({"type": "execute", "cell_id": cell_id})


def _env(client: Client, path: str, cell_id: str) -> dict[str, str]:
    (state,) = client.run_cells(path, [cell_id])
    assert state["last_status"] == "ok", client.view(path)
    env: dict[str, str] = json.loads(cell_text(client.view(path), cell_id))
    return env


def _error_of(client: Client, path: str, cell_id: str) -> str:
    return cell_text(client.view(path), cell_id)


# ---- pure pieces --------------------------------------------------------------------------------


def test_paths_map_to_content_as_the_kernel_sees_them(tmp_path: Path) -> None:
    inst = tmp_path / "runtimes" / "abcdefabcdef"
    root = str(inst / "content")  # where an unsandboxed kernel sees /content
    assert content_relative("/content", root) == ""
    assert content_relative("/content/data/x.csv", root) == "data/x.csv"
    assert content_relative("/content/drive/MyDrive/a", root) == "drive/MyDrive/a"
    assert content_relative(f"{inst}/content/x", root) == "x"  # an unsandboxed kernel
    assert content_relative("/content/a/../b", root) == "b"
    for outside in ("/tmp/x", "/contentx/y", "/content/../etc/passwd", "x/y", str(inst / "home")):
        with pytest.raises(Exception, match="outside /content"):
            content_relative(outside, root)


def test_tokens_are_per_runtime_and_off_until_configured() -> None:
    channel = RuntimeChannel()
    assert channel.runtime_env("aaaaaaaaaaaa") == {}
    assert not channel.token_is_valid("aaaaaaaaaaaa", runtime_token(b"k" * 32, "aaaaaaaaaaaa"))
    channel.configure(b"k" * 32, "http://127.0.0.1:1")
    env = channel.runtime_env("aaaaaaaaaaaa")
    assert env["DIKTE_CONTROL_URL"] == "http://127.0.0.1:1"
    assert channel.token_is_valid("aaaaaaaaaaaa", env["DIKTE_RUNTIME_TOKEN"])
    assert not channel.token_is_valid("bbbbbbbbbbbb", env["DIKTE_RUNTIME_TOKEN"])
    assert not channel.token_is_valid("aaaaaaaaaaaa", env["DIKTE_RUNTIME_TOKEN"][:-1] + "0")


# ---- the token ----------------------------------------------------------------------------------


def test_the_runtime_token_opens_only_its_own_channel(server: DikteServer,
                                                      client: Client) -> None:
    (a,) = client.new_notebook("Notebooks/chan-a.ipynb", [ENV])
    (b,) = client.new_notebook("Notebooks/chan-b.ipynb", [ENV])
    env_a = _env(client, "Notebooks/chan-a.ipynb", a)
    env_b = _env(client, "Notebooks/chan-b.ipynb", b)
    token, rid = env_a["DIKTE_RUNTIME_TOKEN"], env_a["DIKTE_RUNTIME_ID"]
    if netns.isolated("isolated"):  # runtimes have networks of their own: a socket bound in
        assert env_a["DIKTE_CONTROL_URL"] == netns.CONTROL_URL
        unix = httpx.Client(base_url="http://runtime", headers={
            "Authorization": f"Bearer {token}"}, transport=httpx.HTTPTransport(
                uds=str(netns.control_dir(server.data_dir) / netns.CONTROL_SOCKET)))
        with unix:
            r = unix.get(f"/api/runtime-channel/{rid}/requests/none")
            assert r.status_code == 404 and r.json()["error"]["code"] == "no_such_request"
            for url in ("/api/me", "/api/health", "/", "/api/drive/list?path="):
                r = unix.get(url, headers={"Authorization": f"Bearer {server.token}"})
                assert r.status_code == 404, (url, r.text)  # only the channel answers there
    else:
        assert env_a["DIKTE_CONTROL_URL"] == server.url.replace("localhost", "127.0.0.1")
    as_runtime = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"})
    try:
        # its own channel answers (a request id nobody made: 404, past authentication)
        r = as_runtime.get(f"/api/runtime-channel/{rid}/requests/none")
        assert r.status_code == 404 and r.json()["error"]["code"] == "no_such_request", r.text
        # every other endpoint refuses it
        for method, url in [("GET", "/api/me"), ("GET", "/api/sessions"),
                            ("GET", "/api/drive/list?path="),
                            ("GET", "/api/notebooks/view?path=Notebooks/chan-a.ipynb"),
                            ("GET", "/api/runtime/files?path=Notebooks/chan-a.ipynb"),
                            ("POST", "/api/notebooks/disconnect"), ("GET", "/api/tokens")]:
            r = as_runtime.request(method, url, json={"path": "Notebooks/chan-a.ipynb"})
            assert r.status_code == 401, (method, url, r.status_code, r.text)
        # another runtime's channel refuses it, and its own token opens that one
        other = env_b["DIKTE_RUNTIME_ID"]
        for suffix in ("requests/none", "unassign"):
            r = as_runtime.request("GET" if "requests" in suffix else "POST",
                                   f"/api/runtime-channel/{other}/{suffix}")
            assert r.status_code == 401, r.text
            assert r.json()["error"]["code"] == "bad_runtime_token"
        assert client.view("Notebooks/chan-b.ipynb")["runtime"]["runtime_id"] == other
        # a person's token, no token, or a web page (Origin) cannot use the channel
        for headers in ({"Authorization": f"Bearer {server.token}"}, {}):
            r = httpx.get(f"{server.url}/api/runtime-channel/{rid}/requests/none",
                          headers=headers)
            assert r.status_code == 401, r.text
        r = as_runtime.get(f"/api/runtime-channel/{rid}/requests/none",
                           headers={"Origin": server.url})
        assert r.status_code == 403 and r.json()["error"]["code"] == "bad_origin"
        # the token dies with its runtime
        client.post("/api/notebooks/disconnect", {"path": "Notebooks/chan-a.ipynb"})
        r = as_runtime.get(f"/api/runtime-channel/{rid}/requests/none")
        assert r.status_code == 401 and r.json()["error"]["code"] == "runtime_ended"
    finally:
        as_runtime.close()
        client.post("/api/notebooks/disconnect", {"path": "Notebooks/chan-b.ipynb"})


# ---- browser requests ---------------------------------------------------------------------------


def test_without_a_browser_tab_each_call_says_so(client: Client) -> None:
    path = "Notebooks/chan-noviewer.ipynb"
    cells = client.new_notebook(path, [
        COLAB,
        "output.eval_js('1 + 1')",
        "files.upload()",
        "open('x.txt', 'w').write('x')\nfiles.download('x.txt')",
        "files.download('missing.txt')",
    ])
    sock = client.socket(path)  # a program watching: it never answers, so it is never asked
    try:
        sock.wait_for(lambda m: m["type"] == "snapshot")
        for cid in cells:
            _run(sock, cid)
            done = sock.wait_done(cid, timeout=90)
            assert done["last_status"] == ("ok" if cid == cells[0] else "error")
        assert not any(m["type"] == "channel_request" for m in sock.messages)
    finally:
        sock.close()
        client.post("/api/notebooks/disconnect", {"path": path})
    view = client.view(path)
    assert "MessageError: eval_js() runs JavaScript in the notebook's page, and no browser " \
           "has this notebook open now." in _error_of(client, path, cells[1])
    assert "files.upload() lets you choose files" in cell_text(view, cells[2])
    assert "files.download() saves the file" in cell_text(view, cells[3])
    assert "FileNotFoundError: Cannot find file: missing.txt" in cell_text(view, cells[4])


def test_eval_js_round_trip_error_timeout_and_closed_tab(client: Client) -> None:
    path = "Notebooks/chan-eval.ipynb"
    setup, value, failing, timeout, closed = client.new_notebook(path, [
        COLAB,
        "r = output.eval_js('6 * 7')\nprint(repr(r))",
        "output.eval_js('nope()')",
        "output.eval_js('new Promise(() => {})', timeout_sec=1.5)",
        "output.eval_js('1')",
    ])
    sock = _tab(client, path)
    try:
        _run(sock, setup)
        sock.wait_done(setup, timeout=90)
        _run(sock, value)
        req = _request(sock, "eval_js", value)
        assert req["cell_id"] == value and req["script"] == "6 * 7"
        sock.send({"type": "channel_reply", "request_id": req["request_id"],
                   "value": {"answer": 42, "list": [1, "two"]}})
        assert sock.wait_done(value)["last_status"] == "ok"
        assert cell_text(client.view(path), value).strip() == "{'answer': 42, 'list': [1, 'two']}"

        _run(sock, failing)
        req = _request(sock, "eval_js", failing)
        sock.send({"type": "channel_reply", "request_id": req["request_id"],
                   "error": "ReferenceError: nope is not defined"})
        assert sock.wait_done(failing)["last_status"] == "error"
        assert "MessageError: ReferenceError: nope is not defined" in cell_text(
            client.view(path), failing)

        _run(sock, timeout)
        req = _request(sock, "eval_js", timeout)  # never answered
        sock.wait_for(lambda m: m["type"] == "channel_done"
                      and m["request_id"] == req["request_id"])  # the kernel gave up
        assert sock.wait_done(timeout)["last_status"] == "error"
        assert "TimeoutException: eval_js(): the notebook's page did not answer within 1.5 " \
               "seconds." in cell_text(client.view(path), timeout)
    finally:
        sock.close()
    sock = _tab(client, path)
    try:
        _run(sock, closed)
        _request(sock, "eval_js", closed)
    finally:
        sock.close()  # the asked tab goes away before answering
    watcher = client.socket(path)
    try:
        assert watcher.wait_done(closed, timeout=60)["last_status"] == "error"
    finally:
        watcher.close()
    assert "The browser tab that was asked closed before it answered." in cell_text(
        client.view(path), closed)
    client.post("/api/notebooks/disconnect", {"path": path})


def _interrupt_withdraws(client: Client, path: str, tab: NotebookSocket, req: dict[str, Any],
                         cell: str) -> None:
    """Interrupt the notebook: ``req`` ends for ``tab`` and ``cell`` fails with
    KeyboardInterrupt."""
    client.post("/api/notebooks/interrupt", {"path": path})
    tab.wait_for(lambda m: m["type"] == "channel_done" and m["request_id"] == req["request_id"])
    assert tab.wait_done(cell)["last_status"] == "error"
    assert "KeyboardInterrupt" in cell_text(client.view(path), cell)


def test_the_tab_used_last_is_asked_and_an_interrupt_withdraws_the_request(
        client: Client) -> None:
    path = "Notebooks/chan-interrupt.ipynb"
    setup, waiting = client.new_notebook(path, [COLAB, "output.eval_js('1')"])
    first, second = _tab(client, path), _tab(client, path)
    try:
        _run(first, setup)
        first.wait_done(setup, timeout=90)
        _run(first, waiting)  # `first` is now the tab used last
        req = _request(first, "eval_js", waiting)
        assert not any(m["type"] == "channel_request" for m in second.messages)
        _interrupt_withdraws(client, path, first, req, waiting)
    finally:
        first.close()
        second.close()
        client.post("/api/notebooks/disconnect", {"path": path})


def test_an_interrupt_before_the_kernel_waits_still_withdraws_the_request(
        client: Client) -> None:
    """The interrupt can land after the server opened the request and before the kernel began
    to wait for its answer (inside the request that opens it): the kernel then cannot cancel
    it, so the interrupt itself withdraws the requests nobody has begun to wait for."""
    path = "Notebooks/chan-interrupt-early.ipynb"
    opens = ("from google.colab import _channel\nimport time\n"
             "_channel.call('POST', '/requests', {'kind': 'eval_js', 'script': '1', "
             "'parent': _channel.parent_msg_id()})\ntime.sleep(600)")
    (cell,) = client.new_notebook(path, [opens])
    tab = _tab(client, path)
    try:
        _run(tab, cell)
        _interrupt_withdraws(client, path, tab, _request(tab, "eval_js", cell), cell)
    finally:
        tab.close()
        client.post("/api/notebooks/disconnect", {"path": path})


def test_upload_goes_through_the_chunked_upload_api(client: Client) -> None:
    path = "Notebooks/chan-upload.ipynb"
    setup, upload, check = client.new_notebook(path, [
        COLAB + "open('data.csv', 'w').write('old')",
        "uploaded = files.upload()\nprint({k: len(v) for k, v in uploaded.items()})",
        "import os\nprint(sorted(f for f in os.listdir('.') if f[0] != '.' and f != 'drive'))\n"
        "print(open('data (1).csv').read())\nprint([f for f in os.listdir('.') "
        "if f.startswith('.upload-')])",
    ])
    sock = _tab(client, path)
    try:
        _run(sock, setup)
        sock.wait_done(setup, timeout=90)
        _run(sock, upload)
        req = _request(sock, "upload", upload)
        assert req["cell_id"] == upload and req["notebook"] == path
        assert req["directory"].startswith(".upload-")
        body = b"a,b\n1,2\n"
        for name, data in (("data.csv", body), ("empty.bin", b"")):
            started = client.post("/api/uploads", {
                "target": "runtime", "notebook": path, "path": f"{req['directory']}/{name}",
                "size": len(data)})
            if data:
                client.call("PUT", f"/api/uploads/{started['upload_id']}?offset=0", content=data)
            client.post(f"/api/uploads/{started['upload_id']}/complete")
        sock.send({"type": "channel_reply", "request_id": req["request_id"],
                   "value": {"files": ["data.csv", "empty.bin", "../escape"]}})
        assert sock.wait_done(upload)["last_status"] == "ok"
        _run(sock, check)
        assert sock.wait_done(check)["last_status"] == "ok"
    finally:
        sock.close()
        client.post("/api/notebooks/disconnect", {"path": path})
    view = client.view(path)
    assert cell_text(view, upload) == ("Saving data.csv to data (1).csv\n"
                                       "Saving empty.bin to empty.bin\n"
                                       "{'data (1).csv': 8, 'empty.bin': 0}\n")
    assert cell_text(view, check) == ("['data (1).csv', 'data.csv', 'empty.bin']\n"
                                      "a,b\n1,2\n\n[]\n")


def test_download_names_a_url_the_person_can_fetch(client: Client) -> None:
    path = "Notebooks/chan-download.ipynb"
    setup, download, outside = client.new_notebook(path, [
        COLAB + "import os\nos.makedirs('out', exist_ok=True)\n"
        "open('out/result.bin', 'wb').write(bytes(range(256)) * 1000)",
        "files.download('out/result.bin')\nprint('asked')",
        "files.download('/etc/hostname')",
    ])
    sock = _tab(client, path)
    try:
        _run(sock, setup)
        sock.wait_done(setup, timeout=90)
        _run(sock, download)
        req = _request(sock, "download", download)
        assert req["path"] == "out/result.bin" and req["name"] == "result.bin"
        r = client.http.get(req["url"])
        assert r.status_code == 200 and r.content == bytes(range(256)) * 1000
        sock.send({"type": "channel_reply", "request_id": req["request_id"], "value": None})
        assert sock.wait_done(download)["last_status"] == "ok"
        _run(sock, outside)
        assert sock.wait_done(outside)["last_status"] == "error"
    finally:
        sock.close()
        client.post("/api/notebooks/disconnect", {"path": path})
    view = client.view(path)
    assert cell_text(view, download) == "asked\n"
    assert "/etc/hostname is outside /content" in cell_text(view, outside)


# ---- JavaScript calling Python ------------------------------------------------------------------


def test_invoke_function_runs_the_callback_and_shows_its_output(client: Client) -> None:
    path = "Notebooks/chan-callback.ipynb"
    setup, page = client.new_notebook(path, [
        COLAB + "import IPython\n"
        "def concat(a, b, sep=' '):\n    print('concat called')\n"
        "    return IPython.display.JSON({'result': sep.join((a, b))})\n"
        "def boom():\n    raise ValueError('no good')\n"
        "output.register_callback('notebook.Concat', concat)\n"
        "output.register_callback('notebook.Boom', boom)",
        "print('the page')",
    ])
    sock = _tab(client, path)
    try:
        for cid in (setup, page):
            _run(sock, cid)
            sock.wait_done(cid, timeout=90)
        sock.send({"type": "invoke_function", "call_id": "c1", "cell_id": page,
                   "name": "notebook.Concat", "args": ["hello", "world"],
                   "keywords": {"sep": "-"}})
        done = sock.wait_for(lambda m: m["type"] == "invoke_result" and m["call_id"] == "c1")
        assert done["result"]["data"]["application/json"] == {"result": "hello-world"}
        sock.send({"type": "invoke_function", "call_id": "c2", "cell_id": page,
                   "name": "notebook.Boom"})
        failed = sock.wait_for(lambda m: m["type"] == "invoke_result" and m["call_id"] == "c2")
        assert failed["error"] == "The Python callback 'notebook.Boom' failed: ValueError: no good"
        sock.send({"type": "invoke_function", "call_id": "c3", "cell_id": page,
                   "name": "notebook.Missing"})
        missing = sock.wait_for(lambda m: m["type"] == "invoke_result" and m["call_id"] == "c3")
        assert "No Python callback is registered as 'notebook.Missing'" in missing["error"]
        sock.wait_for(lambda m: m["type"] == "output" and m["cell_id"] == page
                      and "notebook.Missing" in json.dumps(m["change"]))
    finally:
        sock.close()
    text = cell_text(client.view(path), page)
    assert text.startswith("the page\nconcat called\n")
    assert "ValueError: no good" in text
    # the queue never saw the callbacks; the next cell runs as usual
    (state,) = client.run_cells(path, [page])
    assert state["last_status"] == "ok"
    assert cell_text(client.view(path), page) == "the page\n"
    client.post("/api/notebooks/disconnect", {"path": path})


# ---- runtime.unassign() -------------------------------------------------------------------------


def test_unassign_ends_the_runtime_with_its_reason(server: DikteServer, client: Client) -> None:
    path = "Notebooks/chan-unassign.ipynb"
    setup, end, after = client.new_notebook(path, [
        COLAB, "runtime.unassign()\nimport time; time.sleep(60)", "print('not run')"])
    sock = client.socket(path)
    try:
        _run(sock, setup)
        sock.wait_done(setup, timeout=90)
        rid = client.view(path)["runtime"]["runtime_id"]
        _run(sock, end)
        _run(sock, after)
        gone = sock.wait_for(lambda m: m["type"] == "runtime" and m["status"] == "disconnected",
                             timeout=60)
        assert gone["message"] == "The notebook's code ended its runtime."
    finally:
        sock.close()
    assert client.view(path)["runtime"] is None
    assert rid not in [s["runtime_id"] for s in client.get("/api/sessions")]
    with sqlite3.connect(server.data_dir / "dikte.db") as db:
        row = db.execute("SELECT status, end_reason FROM runtimes WHERE id = ?", (rid,)).fetchone()
    assert row == ("ended", "The notebook's code ended its runtime.")
    assert "not run" not in cell_text(client.view(path), after)


# ---- no server --------------------------------------------------------------------------------


HEADLESS = """try:
    runtime.unassign()
except NotImplementedError as e:
    print('unassign:', e)
print(output.eval_js('1'))
"""


@pytest.mark.timeout(180)
def test_under_dikte_run_the_calls_say_they_need_the_server(tmp_path: Path) -> None:
    src = tmp_path / "headless.ipynb"
    src.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "id": "c1", "metadata": {}, "outputs": [],
         "execution_count": None, "source": COLAB + HEADLESS}]}))
    r = subprocess.run([sys.executable, "-m", "dikte.cli.main", "run", "--data-dir",
                        str(tmp_path / "data"), str(src)], capture_output=True, text=True,
                       timeout=150, stdin=subprocess.DEVNULL)
    assert r.returncode == 1, r.stdout + r.stderr
    assert ("unassign: runtime.unassign() needs Dikte's server, and this runtime has no "
            "connection to it") in r.stderr  # a failed cell's output goes to stderr
    # the sentence alone, as for what Dikte does not offer: no traceback
    assert ("\neval_js() needs Dikte's server, and this runtime has no connection to it (for "
            "example under `dikte run`, which has no browser). Run the notebook in Dikte's web "
            "app.\n") in r.stderr
    assert "Traceback" not in r.stderr
