"""A real ``dikte serve`` on a free port, and clients for its REST API and notebook WebSockets."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from websockets.sync.client import ClientConnection, connect

from tests.support import forkserver
from tests.support.forkserver import ForkedProcess

Message = dict[str, Any]


# Tests that are not about limits run under one roomy tier (the shipped free tier allows one
# runtime at a time); tests about limits pass their own config (tests/api/test_tiers.py).
ROOMY_TIER = "".join(f"""\
[tiers.{name}]
name = "{name}"
idle_timeout_s = 3600
max_lifetime_s = 7200
disconnect_grace_s = 3600
daily_accelerator_hours = 0
drive_quota = "50GiB"
connect_limit = 1000
[tiers.{name}.shapes.standard]
max_sessions = 50
memory = "12GiB"
disk = "50GiB"
""" for name in ("free", "pro", "pro_plus"))


CGROUP_BASES = [Path("/sys/fs/cgroup/dikte"), Path("/sys/fs/cgroup/memory/dikte"),
                Path("/sys/fs/cgroup/cpu/dikte"), Path("/sys/fs/cgroup/cpu,cpuacct/dikte"),
                Path("/sys/fs/cgroup/pids/dikte")]


class DikteServer:
    """Runs ``dikte serve --port 0`` (as ``python -m dikte.cli.main`` would) with its output in a
    file (not a pipe)."""

    def __init__(self, data_dir: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.extra = extra
        self.env = env or {}
        self.log_path = data_dir.parent / f"{data_dir.name}-server.log"
        self.proc: ForkedProcess | None = None
        self.url = ""
        self.token = ""
        self._clients: list[Client] = []

    def start(self, timeout: float = 60.0) -> DikteServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.log_path.touch()
        # no pre-started runtimes unless a test asks: each would start kernels at start-up
        env = {**os.environ, "DIKTE_RUNTIME_POOL": "0", **self.env, "PYTHONUNBUFFERED": "1"}
        if "DIKTE_CONFIG" not in env and "--config" not in self.extra:
            config = self.data_dir.parent / f"{self.data_dir.name}-roomy.toml"
            config.write_text(ROOMY_TIER)
            env["DIKTE_CONFIG"] = str(config)
        # forked from a process that has imported Dikte already: the same server, a second
        # less of CPU per start (tests/support/forkserver.py)
        self.proc = forkserver.starter().start(
            ["serve", "--port", "0", "--data-dir", str(self.data_dir), *self.extra], env,
            self.log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_text(errors="replace")[offset:]
            m = re.search(r"^\s+(dk_\S+)\s*$", text, re.M)
            if m:
                self.token = m.group(1)
            m = re.search(r"Dikte is serving at (http://\S+?)/? ", text)
            if m:
                self.url = m.group(1).rstrip("/")
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"dikte serve exited:\n{text[-3000:]}")
            time.sleep(0.05)
        raise RuntimeError(f"dikte serve did not start:\n{self.log_text()[-3000:]}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def terminate_sessions(self) -> None:
        """Disconnect everyone's runtimes (a stopped server leaves runtimes running, by design),
        so that the server also removes their cgroups and instance spaces."""
        if self.proc is None or self.proc.poll() is not None:
            return
        client = self.client()
        try:
            r = client.http.get("/api/admin/sessions")
            prefix = "/api/admin/sessions" if r.status_code == 200 else "/api/sessions"
            sessions = r.json() if r.status_code == 200 else client.get("/api/sessions")
            for session in sessions:
                client.http.delete(f"{prefix}/{session['runtime_id']}")
        finally:
            client.http.close()

    def kill_leftovers(self) -> None:
        """End any process still running from this server's data dir, by pid, and remove what
        its runtimes leave (cgroups; views, disks and instance spaces, as a server's start does)."""
        import psutil

        from tests.support.procs import runtime_processes

        runtimes = self.data_dir / "runtimes"
        ids = [p.name for p in runtimes.iterdir()] if runtimes.is_dir() else []
        for rid in ids:
            for proc in runtime_processes(rid):
                try:
                    proc.kill()
                except psutil.NoSuchProcess:
                    pass
        deadline = time.monotonic() + 3
        for rid in ids:  # the cgroups of runtimes no server stopped (empty once killed)
            for base in CGROUP_BASES:
                while (base / rid).is_dir():
                    try:
                        (base / rid).rmdir()
                    except OSError:
                        if time.monotonic() > deadline:
                            break
                        time.sleep(0.05)
        if ids and os.geteuid() == 0:
            import asyncio

            from dikte.runtimes.local import LocalBackend

            asyncio.run(LocalBackend(self.data_dir, sandbox_uid_base=600000).sweep(set()))

    def close(self) -> None:
        try:
            self.terminate_sessions()
        finally:
            for client in self._clients:
                client.http.close()
            self.stop()
            self.kill_leftovers()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def client(self, token: str | None = None) -> Client:
        """An API client, closed when the server is closed."""
        client = Client(self.url, token if token is not None else self.token)
        self._clients.append(client)
        return client


class ApiFailure(AssertionError):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"{response.status_code}: {response.text}")
        self.response = response


class Client:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token
        self.http = httpx.Client(base_url=url, timeout=120,
                                 headers={"Authorization": f"Bearer {token}"} if token else {})

    def call(self, method: str, path: str, **kw: Any) -> Any:
        r = self.http.request(method, path, **kw)
        if r.status_code >= 400:
            raise ApiFailure(r)
        return r.json() if r.content else None

    def get(self, path: str, **kw: Any) -> Any:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, json=body)

    def new_notebook(self, path: str, sources: list[str]) -> list[str]:
        """Create a notebook whose code cells hold ``sources``; return their ids."""
        self.post("/api/notebooks", {"path": path})
        view = self.get("/api/notebooks/view", params={"path": path})
        first = view["notebook"]["cells"][0]["id"]
        ops: list[dict[str, Any]] = [{"op": "delete", "cell_id": first}]
        ops += [{"op": "insert", "source": s} for s in sources]
        return list(self.post("/api/notebooks/edit", {"path": path, "ops": ops})["inserted"])

    def view(self, path: str) -> Any:
        return self.get("/api/notebooks/view", params={"path": path})

    def socket(self, path: str) -> NotebookSocket:
        return NotebookSocket(self.url, self.token, path)

    def run_cells(self, path: str, cell_ids: list[str], timeout: float = 120) -> list[Message]:
        """Run cells over the notebook's WebSocket; return each one's final cell_state."""
        sock = self.socket(path)
        try:
            for cid in cell_ids:
                sock.send({"type": "execute", "cell_id": cid})
            return [sock.wait_done(cid, timeout) for cid in cell_ids]
        finally:
            sock.close()


class NotebookSocket:
    """A notebook WebSocket whose messages are collected by a thread, for waiting on."""

    def __init__(self, url: str, token: str, path: str) -> None:
        ws_url = url.replace("http://", "ws://")
        self.ws: ClientConnection = connect(
            f"{ws_url}/api/notebooks/ws?path={quote(path)}",
            additional_headers={"Authorization": f"Bearer {token}"}, max_size=None
        ).__enter__()
        self.messages: list[Message] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for raw in self.ws:
                with self._cond:
                    self.messages.append(json.loads(raw))
                    self._cond.notify_all()
        except Exception:
            pass
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def send(self, msg: Message) -> None:
        self.ws.send(json.dumps(msg))

    def wait_for(self, pred: Callable[[Message], bool], timeout: float = 60.0) -> Message:
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for msg in self.messages[seen:]:
                    if pred(msg):
                        return msg
                seen = len(self.messages)
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    kinds = [m["type"] for m in self.messages[-20:]]
                    raise AssertionError(f"no matching message; last seen: {kinds} {self.messages[-6:]}")
                self._cond.wait(left)

    def wait_done(self, cell_id: str, timeout: float = 60.0) -> Message:
        return self.wait_for(lambda m: m["type"] == "cell_state" and m["cell_id"] == cell_id
                             and m["state"] == "idle" and m.get("last_status") is not None,
                             timeout)

    def close(self) -> None:
        self.ws.close()
        self._thread.join(5)


def cell_text(view: dict[str, Any], cell_id: str) -> str:
    """All text a cell printed, streams and text/plain results, in order."""
    for cell in view["notebook"]["cells"]:
        if cell["id"] == cell_id:
            parts = []
            for out in cell.get("outputs", []):
                if out["output_type"] == "stream":
                    parts.append(out["text"])
                elif "data" in out:
                    parts.append(out["data"].get("text/plain", ""))
                elif out["output_type"] == "error":
                    parts.append(f"{out['ename']}: {out['evalue']}")
            return "".join(parts)
    raise KeyError(cell_id)


def make_person(server: DikteServer, admin: Client, name: str, *, password: str | None = None,
                tier: str | None = None,
                scopes: tuple[str, ...] = ("write",)) -> tuple[int, Client]:
    """A person made through the admin API, who signs in with a password and makes their own
    token (with ``scopes``); their id and an API client with that token."""
    password = password or f"password-of-{name}"
    body: dict[str, Any] = {"name": name, "password": password}
    if tier is not None:
        body["tier"] = tier
    p = admin.call("POST", "/api/people", json=body)
    with httpx.Client(base_url=server.url, headers={"Origin": server.url}) as web:
        r = web.post("/api/auth/login", json={"name": name, "password": password})
        assert r.status_code == 200, r.text
        r = web.post("/api/tokens", json={"name": "scripts", "scopes": list(scopes)})
        assert r.status_code == 201, r.text
    return int(p["id"]), server.client(r.json()["token"])
