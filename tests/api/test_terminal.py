"""The runtime terminal: a login shell inside the runtime's sandbox, over a WebSocket."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import psutil
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.support.procs import runtime_processes, shell_host_ids
from tests.support.server import Client, DikteServer

SANDBOX_UID = 600000 + 1  # sandbox_uid_base + the admin's person id


class Shell:
    """A terminal WebSocket with helpers to run a command and read what it printed."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen = ""
        self._n = 0

    def send(self, text: str) -> None:
        self.ws.send(json.dumps({"type": "input", "data": text}))

    def resize(self, cols: int, rows: int) -> None:
        self.ws.send(json.dumps({"type": "resize", "cols": cols, "rows": rows}))

    def expect(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.seen, re.S)
            if m:
                self.seen = self.seen[m.end():]
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{pattern!r} not seen; got {self.seen[-2000:]!r}")
            try:
                frame = self.ws.recv(timeout=left)
            except ConnectionClosed as exc:
                raise AssertionError(f"closed ({exc}) before {pattern!r}; got {self.seen!r}") from None
            assert isinstance(frame, bytes), "output comes in binary frames"
            self.seen += frame.decode("utf-8", "replace")

    def run(self, command: str, timeout: float = 30) -> str:
        """Run ``command``; return its output (markers are computed by the shell, so the echoed
        command line never matches them)."""
        self._n += 1
        n = self._n
        self.send(f"echo BEGIN$(({n}*11)); {command}; echo END$(({n}*11))\n")
        m = self.expect(rf"BEGIN{n * 11}\r?\n(.*?)END{n * 11}\r?\n", timeout)
        return m.group(1).replace("\r\n", "\n")

    def wait_closed(self, timeout: float = 30) -> int | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.ws.recv(timeout=deadline - time.monotonic())
            except ConnectionClosed as exc:
                return exc.rcvd.code if exc.rcvd else None
            except TimeoutError:
                break
        raise AssertionError("the terminal socket stayed open")


@contextmanager
def terminal(client: Client, path: str, **size: int) -> Iterator[Shell]:
    query = urlencode({"path": path, **size})
    url = client.url.replace("http://", "ws://") + f"/api/runtime/terminal?{query}"
    with connect(url, additional_headers={"Authorization": f"Bearer {client.token}"},
                 open_timeout=30) as ws:
        yield Shell(ws)


def _connected(client: Client, path: str, sources: list[str]) -> str:
    ids = client.new_notebook(path, sources)
    rid: str = client.post("/api/notebooks/connect", {"path": path})["runtime_id"]
    if ids:
        states = client.run_cells(path, ids)
        assert all(s["last_status"] == "ok" for s in states), states
    return rid


def _shell_pids(rid: str) -> set[int]:
    return {p.pid for p in runtime_processes(rid) if p.name() in ("bash", "sleep")}


def _gone(pids: set[int], timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [p for p in pids if psutil.pid_exists(p)
                 and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        if not alive:
            return True
        time.sleep(0.05)
    return False


def test_shell_runs_inside_the_sandbox(server: DikteServer, client: Client,
                                       runtime_image: Path) -> None:
    path = "Notebooks/term.ipynb"
    rid = _connected(client, path, ["open('/content/made_by_cell.txt', 'w').write('hi')"])
    with terminal(client, path) as sh:
        assert sh.run("id -u").strip() == "0"  # root of the runtime's own user namespace...
        assert shell_host_ids(rid) == {(SANDBOX_UID, True)}  # ...which is this host uid
        assert sh.run("pwd").strip() == "/content"
        assert "made_by_cell.txt" in sh.run("ls /content").split()
        assert sh.run("echo $HOME").strip() == "/root"
        image_bin = str(runtime_image.parent)  # the default image: the tests' minimal image
        assert sh.run("echo $PATH").strip().split(":")[0] == image_bin
        assert sh.run("command -v python").strip() == f"{image_bin}/python"
        assert sh.run("touch /usr/bin/made-in-runtime && echo ok").strip() == "ok"
        assert not os.path.exists("/usr/bin/made-in-runtime")  # its own layer, not the host's
        processes = sh.run("ps -ww -eo pid,args").strip().splitlines()[1:]
        commands = " ".join(processes)
        assert "dikte/kernel/launch.py" in commands, commands  # the runtime's kernel...
        # ...only: not the server (started by the tests' fork server) nor anything of the host
        assert "forkserver" not in commands and "pytest" not in commands, commands
        assert len(processes) < 10, commands
        assert sh.run("cat /proc/1/cmdline | tr '\\0' ' '").split()[0].endswith("/bwrap")
        data = server.data_dir
        assert "No such file" in sh.run(f"ls {data} 2>&1; cat {data}/dikte.db 2>&1")
        assert "No such file" in sh.run("cat /etc/shadow 2>&1")  # not in the runtime's /etc


def test_resize_sets_the_window_size(client: Client) -> None:
    path = "Notebooks/term-size.ipynb"
    _connected(client, path, [])
    with terminal(client, path, cols=100, rows=30) as sh:
        assert sh.run("stty size").strip() == "30 100"
        sh.resize(132, 43)
        assert sh.run("stty size").strip() == "43 132"


def test_closing_the_socket_ends_the_shell(client: Client) -> None:
    path = "Notebooks/term-close.ipynb"
    rid = _connected(client, path, [])
    with terminal(client, path) as sh:
        sh.run("sleep 600 & echo started")
        pids = _shell_pids(rid)
        assert len(pids) >= 2, pids  # the shell and its background job, in the runtime
    assert _gone(pids), "the shell or its job outlived the socket"


def test_exit_closes_the_socket(client: Client) -> None:
    path = "Notebooks/term-exit.ipynb"
    _connected(client, path, [])
    with terminal(client, path) as sh:
        sh.run("true")
        sh.send("exit\n")
        assert sh.wait_closed() == 1000


def test_disconnecting_the_runtime_ends_the_terminal(client: Client) -> None:
    path = "Notebooks/term-disconnect.ipynb"
    rid = _connected(client, path, [])
    with terminal(client, path) as sh:
        sh.run("true")
        pids = _shell_pids(rid)
        assert pids
        client.post("/api/notebooks/disconnect", {"path": path})
        assert sh.wait_closed() == 1000
    assert _gone(pids)


def test_terminal_needs_a_token_and_a_runtime(server: DikteServer, client: Client) -> None:
    path = "Notebooks/term-none.ipynb"
    client.new_notebook(path, [])
    url = server.url.replace("http://", "ws://") + f"/api/runtime/terminal?path={path}"
    with pytest.raises(InvalidStatus):
        connect(url, open_timeout=10).close()
    with pytest.raises(InvalidStatus):
        connect(url, additional_headers={"Authorization": f"Bearer {client.token}"},
                open_timeout=10).close()


def test_unsandboxed_runtimes_get_a_plain_shell(fresh_server: Callable[..., DikteServer]) -> None:
    srv = fresh_server("--unsafe-no-sandbox").start()
    client = srv.client()
    path = "Notebooks/term-plain.ipynb"
    rid = _connected(client, path, [])
    with terminal(client, path) as sh:
        assert sh.run("pwd").strip() == str(srv.data_dir / "runtimes" / rid / "content")
        assert sh.run("ls drive/MyDrive").split() == ["Notebooks"]
        client.post("/api/notebooks/disconnect", {"path": path})
        assert sh.wait_closed() == 1000
