"""Dikte's core latencies against raw jupyter_client, measured in one run on one machine.

Three measurements, each taken through Dikte (a real ``dikte serve`` started here as a
subprocess) and through a bare ipykernel driven by jupyter_client in this process:

  connect    request -> kernel ready.  Dikte: POST /api/notebooks/connect (disconnected between
             samples).  Raw: KernelManager.start_kernel + client.wait_for_ready (shut down between
             samples).
  roundtrip  a trivial cell (``1``) on a running kernel.  Dikte: send ``execute`` on the notebook
             WebSocket -> receive the cell's idle ``cell_state``.  Raw: client.execute -> iopub
             idle status and the shell execute_reply.
  lines      a cell printing 200,000 lines, until done.  Dikte: as roundtrip, reading every
             delta the server sends.  Raw: execute, drain iopub (keeping the text) until idle,
             plus the execute_reply.

Dikte and raw samples are interleaved so that load on the machine hits both alike.  Nothing here
asserts on timings.  Usage:  .venv/bin/python bench/bench_core.py [--json [FILE]] (see --help)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager
from websockets.sync.client import ClientConnection, connect

NOTEBOOK = "Notebooks/bench_core.ipynb"
TRIVIAL = "1"
MSG_TIMEOUT = 120.0


# ---------------------------------------------------------------------------------------- stats


@dataclass
class Series:
    name: str
    unit_scale: float = 1000.0  # seconds -> ms
    samples: list[float] = field(default_factory=list)

    def add(self, seconds: float) -> None:
        self.samples.append(seconds)

    def p50(self) -> float:
        return statistics.median(self.samples)

    def p90(self) -> float:
        s = sorted(self.samples)
        if len(s) == 1:
            return s[0]
        return statistics.quantiles(s, n=10, method="inclusive")[8]

    def summary(self) -> dict[str, Any]:
        return {
            "n": len(self.samples),
            "p50_ms": self.p50() * 1000,
            "p90_ms": self.p90() * 1000,
            "min_ms": min(self.samples) * 1000,
            "max_ms": max(self.samples) * 1000,
            "samples_ms": [round(x * 1000, 3) for x in self.samples],
        }


# ---------------------------------------------------------------------------------------- Dikte


# --force-nodelay (a diagnostic, not for the record): asyncio only sets TCP_NODELAY on sockets
# whose proto is IPPROTO_TCP, and `dikte serve` makes its listening socket with proto 0, so the
# accepted connections keep Nagle's algorithm.  This shim sets it regardless, to show the cost.
NODELAY_SHIM = """\
import asyncio.base_events as be, socket, sys
def _set_nodelay(sock):
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
be._set_nodelay = _set_nodelay
from dikte.cli.main import main
sys.exit(main())
"""


class Server:
    """``dikte serve --port 0`` in its own temp data dir, its output in a file (not a pipe)."""

    def __init__(self, root: Path, *, no_sandbox: bool, force_nodelay: bool = False,
                 env: dict[str, str] | None = None) -> None:
        self.env = env or {}
        self.data_dir = root / "data"
        self.log_path = root / "server.log"
        self.no_sandbox = no_sandbox
        self.force_nodelay = force_nodelay
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.token = ""
        self.children: dict[int, float] = {}  # pid -> create time

    def start(self, timeout: float = 60.0) -> None:
        dikte = Path(sys.executable).with_name("dikte")
        cmd = [str(dikte) if dikte.exists() else sys.executable, "serve", "--port", "0",
               "--data-dir", str(self.data_dir)]
        if self.force_nodelay:
            cmd[0:1] = [sys.executable, "-c", NODELAY_SHIM]
        elif not dikte.exists():
            cmd[1:1] = ["-m", "dikte.cli.main"]
        if self.no_sandbox:
            cmd.append("--unsafe-no-sandbox")
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                         env={**os.environ, **self.env,
                                              "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_text()
            if m := re.search(r"^ {4}(dk_\S+)\s*$", text, re.M):
                self.token = m.group(1)
            if (m := re.search(r"Dikte is serving at (http://\S+?)/? ", text)) and self.token:
                self.url = m.group(1).rstrip("/")
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"dikte serve exited:\n{text[-3000:]}")
            time.sleep(0.05)
        raise RuntimeError(f"dikte serve did not start:\n{self.log_text()[-3000:]}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def note_children(self) -> None:
        """Remember the server's descendants (its runtimes), to check on them after it stops."""
        try:
            import psutil
        except ImportError:
            return
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    self.children[child.pid] = child.create_time()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill_leftovers(self) -> list[int]:
        """End, by pid, any process this server started that still runs (a safety net: the
        runtimes are disconnected before the server stops)."""
        try:
            import psutil
        except ImportError:
            return []
        killed = []
        for pid, created in self.children.items():
            try:
                proc = psutil.Process(pid)
                if proc.create_time() == created and proc.status() != psutil.STATUS_ZOMBIE:
                    proc.kill()
                    killed.append(pid)
            except psutil.Error:
                pass
        marker = str(self.data_dir)
        for proc in psutil.process_iter(["pid", "cmdline"]):
            try:
                if proc.pid != os.getpid() and any(marker in p for p in proc.info["cmdline"] or ()):
                    proc.kill()
                    killed.append(proc.pid)
            except psutil.Error:
                pass
        return killed


class Api:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token
        self.http = httpx.Client(base_url=url, timeout=MSG_TIMEOUT,
                                 headers={"Authorization": f"Bearer {token}"})

    def call(self, method: str, path: str, **kw: Any) -> Any:
        r = self.http.request(method, path, **kw)
        if r.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:500]}")
        return r.json() if r.content else None

    def new_notebook(self, path: str, sources: list[str]) -> list[str]:
        self.call("POST", "/api/notebooks", json={"path": path})
        view = self.call("GET", "/api/notebooks/view", params={"path": path})
        ops: list[dict[str, Any]] = [{"op": "delete", "cell_id": c["id"]}
                                     for c in view["notebook"]["cells"]]
        ops += [{"op": "insert", "source": s} for s in sources]
        body = {"path": path, "ops": ops}
        return list(self.call("POST", "/api/notebooks/edit", json=body)["inserted"])

    def connect(self, path: str) -> Any:
        return self.call("POST", "/api/notebooks/connect", json={"path": path})

    def disconnect(self, path: str) -> None:
        self.call("POST", "/api/notebooks/disconnect", json={"path": path})

    def end_all_sessions(self) -> None:
        for s in self.call("GET", "/api/sessions"):
            self.call("DELETE", f"/api/sessions/{s['runtime_id']}")

    def socket(self, path: str) -> Socket:
        return Socket(self.url, self.token, path)


class Socket:
    """A notebook WebSocket read in the calling thread (no reader thread in the timed path)."""

    def __init__(self, url: str, token: str, path: str) -> None:
        self.ws: ClientConnection = connect(
            f"{url.replace('http://', 'ws://')}/api/notebooks/ws?path={quote(path)}",
            additional_headers={"Authorization": f"Bearer {token}"}, max_size=None).__enter__()
        first = self.recv()
        if first.get("type") != "snapshot":
            raise RuntimeError(f"expected a snapshot first, got {first.get('type')}")

    def recv(self) -> dict[str, Any]:
        return json.loads(self.ws.recv(timeout=MSG_TIMEOUT))

    def run(self, cell_id: str) -> tuple[str, int]:
        """Execute a cell and read until its idle cell_state; return (last_status, messages)."""
        self.ws.send(json.dumps({"type": "execute", "cell_id": cell_id}))
        n = 0
        while True:
            msg = self.recv()
            n += 1
            if (msg.get("type") == "cell_state" and msg.get("cell_id") == cell_id
                    and msg.get("state") == "idle" and msg.get("last_status") is not None):
                return msg["last_status"], n
            if msg.get("type") == "error":
                raise RuntimeError(f"server error: {msg}")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()


# ------------------------------------------------------------------------------------------ raw


# jupyter_client's default; --raw-transport ipc matches Dikte's local runtimes
RAW_TRANSPORT = "tcp"


def wait_like_dikte(kc: BlockingKernelClient) -> None:
    """Dikte's readiness rule (execution/kernel.py wait_ready): a kernel_info_reply on shell and
    an iopub message after it; without wait_for_ready's trailing 0.2 s wait for iopub silence."""
    deadline = time.monotonic() + MSG_TIMEOUT
    while time.monotonic() < deadline:
        msg_id = kc.kernel_info()
        try:
            reply = kc.get_shell_msg(timeout=1)
        except queue.Empty:
            continue
        if reply["parent_header"].get("msg_id") != msg_id:
            continue
        try:
            kc.get_iopub_msg(timeout=0.5)
        except queue.Empty:
            continue
        return
    raise RuntimeError("the raw kernel did not become ready")


def raw_start(rule: str = "wait_for_ready") -> tuple[float, KernelManager, BlockingKernelClient]:
    """Start an ipykernel with plain jupyter_client; return (seconds to ready, manager, client)."""
    t0 = time.perf_counter()
    km = KernelManager(kernel_name="python3", transport=RAW_TRANSPORT)
    if RAW_TRANSPORT == "ipc":
        km.ip = str(Path(tempfile.gettempdir()) / f"bench-raw-{os.getpid()}-{id(km)}")
    km.start_kernel(stderr=subprocess.DEVNULL)  # quiet its "TCP without encryption" warning
    kc = km.client()
    try:
        kc.start_channels()
        if rule == "wait_for_ready":
            kc.wait_for_ready(timeout=MSG_TIMEOUT)
        else:
            wait_like_dikte(kc)
    except BaseException:
        raw_stop(km, kc)
        raise
    return time.perf_counter() - t0, km, kc


def raw_stop(km: KernelManager, kc: BlockingKernelClient) -> None:
    with contextlib.suppress(Exception):
        kc.stop_channels()
    with contextlib.suppress(Exception):
        km.shutdown_kernel(now=True)


@contextlib.contextmanager
def raw_kernel() -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    _, km, kc = raw_start()
    try:
        yield km, kc
    finally:
        raw_stop(km, kc)


def raw_run(kc: BlockingKernelClient, code: str) -> tuple[str, int]:
    """Execute, drain iopub (keeping stream text) until idle, then the execute_reply."""
    msg_id = kc.execute(code)
    text: list[str] = []
    while True:
        msg = kc.get_iopub_msg(timeout=MSG_TIMEOUT)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind == "stream":
            text.append(msg["content"]["text"])
        elif kind == "status" and msg["content"]["execution_state"] == "idle":
            break
    while True:
        reply = kc.get_shell_msg(timeout=MSG_TIMEOUT)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    lines = "".join(text).count("\n")
    return reply["content"]["status"], lines


# ------------------------------------------------------------------------------------ benchmark


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def stop_and_clean(server: Server, root: Path, *, keep: bool) -> None:
    """Stop the server, end any runtime process it left, and remove the temporary dir."""
    server.stop()
    leftovers = server.kill_leftovers()
    if leftovers:
        log(f"killed leftover runtime processes: {leftovers}")
    if keep:
        log(f"kept {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def bench_connect(api: Api, server: Server, n: int) -> dict[str, tuple[Series, Series]]:
    dk, raw, raw2 = Series("dikte"), Series("raw"), Series("raw")
    for i in range(n + 1):  # sample 0 of each is a warm-up (cold page cache, first imports)
        dt, _ = timed(lambda: api.connect(NOTEBOOK))
        server.note_children()
        api.disconnect(NOTEBOOK)
        rt, km, kc = raw_start()
        raw_stop(km, kc)
        rt2, km, kc = raw_start("dikte")
        raw_stop(km, kc)
        if i:
            dk.add(dt)
            raw.add(rt)
            raw2.add(rt2)
        log(f"  connect {i}/{n}: dikte {dt * 1000:.0f} ms, raw {rt * 1000:.0f} ms, "
            f"raw with Dikte's readiness rule {rt2 * 1000:.0f} ms")
    return {"connect": (dk, raw), "connect_same_rule": (dk, raw2)}


def bench_cells(api: Api, server: Server, trivial_id: str, lines_id: str, *, warmup: int,
                rtt_n: int, lines_n: int, lines: int) -> dict[str, tuple[Series, Series]]:
    api.connect(NOTEBOOK)
    server.note_children()
    sock = api.socket(NOTEBOOK)
    try:
        with raw_kernel() as (_km, kc):
            for _ in range(warmup):
                sock.run(trivial_id)
                raw_run(kc, TRIVIAL)
            dk, raw = Series("dikte"), Series("raw")
            for _ in range(rtt_n):
                dt, (status, _) = timed(lambda: sock.run(trivial_id))
                if status != "ok":
                    raise RuntimeError(f"dikte trivial cell ended {status}")
                rt, (status, _) = timed(lambda: raw_run(kc, TRIVIAL))
                if status != "ok":
                    raise RuntimeError(f"raw trivial cell ended {status}")
                dk.add(dt)
                raw.add(rt)
            log(f"  roundtrip: dikte p50 {dk.p50() * 1000:.2f} ms, "
                f"raw p50 {raw.p50() * 1000:.2f} ms")
            dl, rl = Series("dikte"), Series("raw")
            code = f"for i in range({lines}): print(i)"
            for i in range(lines_n):
                dt, (status, nmsg) = timed(lambda: sock.run(lines_id))
                if status != "ok":
                    raise RuntimeError(f"dikte lines cell ended {status}")
                rt, (status, got) = timed(lambda: raw_run(kc, code))
                if status != "ok" or got != lines:
                    raise RuntimeError(f"raw lines cell ended {status} with {got} lines")
                dl.add(dt)
                rl.add(rt)
                log(f"  lines {i + 1}/{lines_n}: dikte {dt * 1000:.0f} ms ({nmsg} ws messages), "
                    f"raw {rt * 1000:.0f} ms")
    finally:
        sock.close()
        api.disconnect(NOTEBOOK)
    return {"roundtrip": (dk, raw), "lines": (dl, rl)}


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "loadavg": os.getloadavg(),
    }


def render(results: dict[str, tuple[Series, Series]], lines: int) -> str:
    label = {
        "connect": "connect (request -> kernel ready)",
        "connect_same_rule": " ... raw without the 0.2 s iopub flush",
        "roundtrip": "trivial cell round trip (`1`)",
        "lines": f"{lines:,}-line print cell, until idle",
    }
    head = (f"{'measurement':<38} {'n':>4} {'Dikte p50':>10} {'p90':>9} {'raw p50':>10} "
            f"{'p90':>9} {'ratio p50':>9} {'p90':>6}")
    rows = [head, "-" * len(head)]
    for key, (dk, raw) in results.items():
        rows.append(
            f"{label[key]:<38} {len(dk.samples):>4} {dk.p50() * 1000:>8.2f}ms "
            f"{dk.p90() * 1000:>7.2f}ms {raw.p50() * 1000:>8.2f}ms {raw.p90() * 1000:>7.2f}ms "
            f"{dk.p50() / raw.p50():>8.2f}x {dk.p90() / raw.p90():>5.2f}x")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--connect-samples", type=int, default=5)
    ap.add_argument("--roundtrip-samples", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20, help="round trips before timing")
    ap.add_argument("--lines-samples", type=int, default=3)
    ap.add_argument("--lines", type=int, default=200_000, help="lines the print cell prints")
    ap.add_argument("--json", nargs="?", const="-", metavar="FILE",
                    help="results as JSON: on stdout instead of the table, or into FILE as well")
    ap.add_argument("--unsafe-no-sandbox", action="store_true",
                    help="run Dikte's kernels without bubblewrap (development only; not for "
                         "recorded figures)")
    ap.add_argument("--force-nodelay", action="store_true",
                    help="diagnostic: start the server with TCP_NODELAY forced on its connections")
    ap.add_argument("--raw-transport", choices=["tcp", "ipc"], default="tcp",
                    help="ZeroMQ transport of the raw kernel (Dikte's local runtimes use ipc)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (server log) at the end")
    args = ap.parse_args(argv)
    global RAW_TRANSPORT
    RAW_TRANSPORT = args.raw_transport

    # SIGTERM should unwind through the finally blocks, like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    root = Path(tempfile.mkdtemp(prefix="dikte-bench-"))
    server = Server(root, no_sandbox=args.unsafe_no_sandbox, force_nodelay=args.force_nodelay)
    started = time.time()
    load_before = os.getloadavg()
    results: dict[str, tuple[Series, Series]] = {}
    api: Api | None = None
    try:
        log(f"starting dikte serve (data in {root})")
        server.start()
        api = Api(server.url, server.token)
        trivial_id, lines_id = api.new_notebook(
            NOTEBOOK, [TRIVIAL, f"for i in range({args.lines}): print(i)"])
        log("connect:")
        results.update(bench_connect(api, server, args.connect_samples))
        log("cells:")
        results.update(bench_cells(api, server, trivial_id, lines_id, warmup=args.warmup,
                                   rtt_n=args.roundtrip_samples, lines_n=args.lines_samples,
                                   lines=args.lines))
    finally:
        if api is not None:
            with contextlib.suppress(Exception):
                api.end_all_sessions()
            api.http.close()
        stop_and_clean(server, root, keep=args.keep)

    info = machine()
    info["loadavg_before"] = load_before
    doc = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(started)),
        "elapsed_s": round(time.time() - started, 1),
        "sandbox": not args.unsafe_no_sandbox,
        "raw_transport": args.raw_transport,
        "force_nodelay": args.force_nodelay,
        "machine": info,
        "results": {
            key: {"dikte": dk.summary(), "raw": raw.summary(),
                  "ratio_p50": dk.p50() / raw.p50(), "ratio_p90": dk.p90() / raw.p90()}
            for key, (dk, raw) in results.items()
        },
    }
    if args.json and args.json != "-":
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    if args.json == "-":
        print(json.dumps(doc, indent=2))
    else:
        print(f"Dikte vs raw jupyter_client, {doc['date']}, {info['cpus']} CPUs, "
              f"{'bubblewrap sandbox' if doc['sandbox'] else 'NO sandbox'}, "
              f"raw kernel over {args.raw_transport}, "
              f"{'TCP_NODELAY FORCED (diagnostic), ' if args.force_nodelay else ''}"
              f"load avg before {load_before[0]:.2f} / after {info['loadavg'][0]:.2f}, "
              f"{doc['elapsed_s']} s")
        print(render(results, args.lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
