"""N connects at the same moment through Dikte, against N kernels started at once with plain
jupyter_client, in one run on one machine.

For each N (default 1, 10, 50, 100), three phases, one after another:

  cold   N people each connect a notebook of their own at the same moment (POST
         /api/notebooks/connect from N threads released together), to a ``dikte serve`` with no
         runtimes started ahead (DIKTE_RUNTIME_POOL=0); each connect is timed from its request
         to its answer (the kernel is ready).
  raw    N ipykernels started at the same moment from N threads with plain jupyter_client:
         KernelManager.start_kernel + client.wait_for_ready, each timed until ready.
  warm   as cold, to a second ``dikte serve`` that keeps P runtimes started ahead
         (DIKTE_RUNTIME_POOL=P), once GET /api/admin/pool shows P ready.  The connects given a
         pooled runtime (its runtime id was on the shelf) are reported apart.

Each phase reports p50, p99 and max of the answers, failures, the machine's available memory
before the burst and after holding the N runtimes idle for a few seconds (per runtime), and the
server's RSS (its own process, not the runtimes).  Ratios: Dikte p50 / raw p50 and Dikte max / raw
max for the same N.  Between phases every runtime is disconnected (or shut down) and the script
waits until their processes are gone.  With ``--hold K`` it instead connects K runtimes in
batches, holds them idle, and reports memory per runtime and in all.

Both servers (real sandbox, temporary data dirs, a tier with room for everyone) run for the whole
run; they, their runtimes and the raw kernels are ended on the way out.  Nothing here asserts on
timings.  Run as root.  Usage:  .venv/bin/python bench/bench_scale.py [--n 1,10] [--pool P]
[--hold K] [--json FILE] (see --help)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bench_core
import psutil
from bench_core import Api, Server, machine, raw_start, raw_stop, stop_and_clean
from soak import log, new_person, pct, tier_config

CONNECT_TIMEOUT = 600.0
"""Seconds one connect (or raw start) may take: N=100 on 2 cores takes about a minute."""
MAX_SESSIONS = 4  # soak.tier_config's, per person


def notebook(i: int) -> str:
    return f"Notebooks/scale{i}.ipynb"


# ---------------------------------------------------------------------------------------- figures


@dataclass
class Burst:
    """One phase of one N: every answer's time (s), the failures, and memory around it."""

    side: str
    n: int
    times: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    pooled: list[float] = field(default_factory=list)  # warm: the answers the pool served
    wall_s: float = 0.0  # first request to last answer
    avail_before: int = 0
    avail_after: int = 0
    pss_before: int = 0  # the runtimes' processes (the server's or this one's descendants)
    pss_after: int = 0
    idle_cpu: float | None = None  # the server's, in % of a core, while the N sat idle
    burst_cpu: float | None = None  # the server's CPU seconds from the release to the last answer
    rss_before: int = 0
    rss_after: int = 0

    def figures(self, pool: int = 0) -> dict[str, Any]:
        ok = len(self.times)
        per = (self.avail_before - self.avail_after) / ok / 2**20 if ok else None
        first = sorted(self.times)[:min(self.n, pool)] if self.side == "warm" else []
        return {
            "side": self.side, "n": self.n, "ok": ok, "failures": len(self.failures),
            "p50_ms": pct(self.times, 50), "p99_ms": pct(self.times, 99),
            "max_ms": max(self.times) * 1000 if self.times else None,
            "wall_s": round(self.wall_s, 2),
            "first_pool_p50_ms": pct(first, 50), "pooled": len(self.pooled),
            "pooled_p50_ms": pct(self.pooled, 50),
            "mib_per_runtime": per,
            "server_idle_cpu_pct": self.idle_cpu,
            "server_burst_cpu_s": self.burst_cpu,
            "pss_mib_per_runtime": (self.pss_after - self.pss_before) / ok / 2**20 if ok else None,
            "avail_before_mib": self.avail_before / 2**20,
            "avail_after_mib": self.avail_after / 2**20,
            "server_rss_before_mib": self.rss_before / 2**20 if self.rss_before else None,
            "server_rss_after_mib": self.rss_after / 2**20 if self.rss_after else None,
            "failure_messages": self.failures[:10],
            "samples_ms": [round(t * 1000, 1) for t in self.times],
        }


def available() -> int:
    return int(psutil.virtual_memory().available)


def pss(pid: int) -> int:
    """The proportional set size of pid's descendants together (shared pages split among
    the processes that map them)."""
    total = 0
    for child in psutil.Process(pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            total += child.memory_full_info().pss
    return total


def rss(server: Server) -> int:
    assert server.proc is not None
    return int(psutil.Process(server.proc.pid).memory_info().rss)


def at_once(n: int, job: Callable[[int], Any]) -> tuple[list[tuple[float, Any]], float]:
    """Run ``job(i)`` for i < n from n threads released together; each result with its seconds
    from release to return (an exception is the result when it raised); and the wall time."""
    gate = threading.Barrier(n + 1)

    def one(i: int) -> tuple[float, Any]:
        gate.wait(60)
        t0 = time.perf_counter()
        try:
            out = job(i)
        except Exception as exc:
            out = exc
        return time.perf_counter() - t0, out

    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = [pool.submit(one, i) for i in range(n)]
        gate.wait(60)
        t0 = time.perf_counter()
        results = [f.result() for f in futures]
    return results, time.perf_counter() - t0


# ---------------------------------------------------------------------------------------- Dikte


class Side:
    """One ``dikte serve`` with its people: people[i] owns notebook(j) for j < per_person."""

    def __init__(self, root: Path, name: str, pool: int, people: int, per_person: int,
                 images: str, start_concurrency: int | None = None) -> None:
        self.name = name
        self.pool = pool
        env = {"DIKTE_RUNTIME_POOL": str(pool), "DIKTE_IMAGES_DIR": images}
        if start_concurrency is not None:
            env["DIKTE_RUNTIME_START_CONCURRENCY"] = str(start_concurrency)
        self.server = Server(root / name, no_sandbox=False, env=env)
        self.server.data_dir.mkdir(parents=True)
        (self.server.data_dir / "dikte.toml").write_text(tier_config(people))
        self.n_people = people
        self.per_person = per_person
        self.admin: Api | None = None
        self.people: list[Api] = []
        self.children = 0  # the server's processes when no person holds a runtime

    def start(self) -> None:
        self.server.start(timeout=120)
        self.admin = Api(self.server.url, self.server.token)
        t0 = time.perf_counter()
        for i in range(self.n_people):
            api = new_person(self.admin, self.server, f"scale{i:03d}")
            self.people.append(api)
            for j in range(self.per_person):
                api.call("POST", "/api/notebooks", json={"path": notebook(j)})
        log(f"  {self.name}: {self.n_people} people with {self.per_person} notebook(s) each in "
            f"{time.perf_counter() - t0:.1f} s")
        self.wait_pool()
        self.children = self.count_children()

    def count_children(self) -> int:
        assert self.server.proc is not None
        return len(psutil.Process(self.server.proc.pid).children(recursive=True))

    def pool_info(self) -> dict[str, Any]:
        assert self.admin is not None
        info: dict[str, Any] = self.admin.call("GET", "/api/admin/pool")
        return info

    def ready_ids(self) -> set[str]:
        shelves = self.pool_info()["shelves"]
        return set(shelves[0]["ready"]) if shelves else set()

    def wait_pool(self, timeout: float = 600.0) -> None:
        """Until the pool holds its P runtimes ready and none starting."""
        if not self.pool:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shelves = self.pool_info()["shelves"]
            if shelves and len(shelves[0]["ready"]) >= self.pool and not shelves[0]["starting"]:
                self.server.note_children()
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name}: the pool was not full after {timeout:.0f} s: "
                           f"{self.pool_info()}")

    def connect(self, person: int, nb: int) -> str:
        out = self.people[person].call("POST", "/api/notebooks/connect",
                                       json={"path": notebook(nb)}, timeout=CONNECT_TIMEOUT)
        return str(out["runtime_id"])

    def disconnect_all(self, held: list[tuple[int, int]], threads: int = 20) -> None:
        """Disconnect these (person, notebook) pairs, then wait until their processes end."""
        def one(pair: tuple[int, int]) -> None:
            with contextlib.suppress(Exception):
                self.people[pair[0]].call("POST", "/api/notebooks/disconnect",
                                          json={"path": notebook(pair[1])},
                                          timeout=CONNECT_TIMEOUT)

        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(one, held))
        assert self.admin is not None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if not self.admin.call("GET", "/api/admin/sessions") \
                    and self.count_children() <= self.children:
                break
            time.sleep(0.2)
        else:
            log(f"  {self.name}: runtimes still there 300 s after disconnecting: "
                f"{self.count_children()} processes against {self.children}")
        self.wait_pool()

    def close(self) -> None:
        if self.admin is not None:
            with contextlib.suppress(Exception):
                for s in self.admin.call("GET", "/api/admin/sessions"):
                    self.admin.call("DELETE", f"/api/admin/sessions/{s['runtime_id']}")
            self.admin.http.close()
        for api in self.people:
            api.http.close()


def settle(seconds: float, server: Server | None = None) -> float | None:
    """Wait while the runtimes sit idle; the server's CPU meanwhile, in % of one core."""
    pid = server.proc.pid if server is not None and server.proc is not None else None
    t0, cpu0 = time.monotonic(), cpu_seconds(pid) if pid else 0.0
    time.sleep(seconds)
    return None if pid is None else 100 * (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)


def cpu_seconds(pid: int) -> float:
    """CPU (user and system) the process used so far."""
    t = psutil.Process(pid).cpu_times()
    return float(t.user + t.system)


def mounts(server: Server) -> int:
    """Lines in the server's mount table (each runtime adds its disk, layers and binds)."""
    assert server.proc is not None
    with open(f"/proc/{server.proc.pid}/mountinfo") as f:
        return sum(1 for _ in f)


def dikte_burst(side: Side, n: int, settle_s: float) -> Burst:
    burst = Burst(side.name, n)
    pooled_ids = side.ready_ids()
    assert side.server.proc is not None
    pid = side.server.proc.pid
    burst.pss_before = pss(pid)
    burst.avail_before, burst.rss_before = available(), rss(side.server)
    cpu0 = cpu_seconds(pid)
    results, burst.wall_s = at_once(n, lambda i: side.connect(i, 0))
    burst.burst_cpu = cpu_seconds(pid) - cpu0
    side.server.note_children()
    for dt, out in results:
        if isinstance(out, Exception):
            burst.failures.append(f"{type(out).__name__}: {out}"[:300])
            continue
        burst.times.append(dt)
        if out in pooled_ids:
            burst.pooled.append(dt)
    side.wait_pool()  # the refills, before memory is read: P ready again, as before the burst
    burst.idle_cpu = settle(settle_s, side.server)
    burst.avail_after, burst.rss_after = available(), rss(side.server)
    burst.pss_after = pss(pid)
    side.server.note_children()
    side.disconnect_all([(i, 0) for i in range(n)])
    return burst


# ------------------------------------------------------------------------------------------ raw


def raw_burst(n: int, settle_s: float) -> Burst:
    burst = Burst("raw", n)
    burst.avail_before, burst.pss_before = available(), pss(os.getpid())
    results, burst.wall_s = at_once(n, lambda i: raw_start())
    kernels = []
    for dt, out in results:
        if isinstance(out, Exception):
            burst.failures.append(f"{type(out).__name__}: {out}"[:300])
            continue
        _, km, kc = out
        burst.times.append(dt)  # from release, like Dikte's (raw_start's own clock is the same)
        kernels.append((km, kc))
    settle(settle_s)
    burst.avail_after, burst.pss_after = available(), pss(os.getpid())
    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(lambda k: raw_stop(*k), kernels))
    return burst


# ------------------------------------------------------------------------------------------ hold


def hold(side: Side, k: int, batch: int, settle_s: float) -> dict[str, Any]:
    """Connect k runtimes, batch at a time, hold them idle, read memory; disconnect them."""
    pairs = [(i % side.n_people, i // side.n_people) for i in range(k)]
    assert side.server.proc is not None
    pss0, avail0, rss0 = pss(side.server.proc.pid), available(), rss(side.server)
    mounts0 = mounts(side.server)
    times: list[float] = []
    failures: list[str] = []
    walls: list[float] = []
    batch_p50: list[float | None] = []
    t0 = time.perf_counter()
    for start in range(0, k, batch):
        chunk = pairs[start:start + batch]

        def job(i: int, chunk: list[tuple[int, int]] = chunk) -> str:
            return side.connect(*chunk[i])

        results, wall = at_once(len(chunk), job)
        walls.append(round(wall, 2))
        batch_p50.append(pct([dt for dt, out in results if not isinstance(out, Exception)], 50))
        side.server.note_children()
        for dt, out in results:
            if isinstance(out, Exception):
                failures.append(f"{type(out).__name__}: {out}"[:300])
            else:
                times.append(dt)
        log(f"  {start + len(chunk)}/{k} connected (batch in {wall:.1f} s, "
            f"available {available() / 2**30:.2f} GiB)")
    connect_s = time.perf_counter() - t0
    idle_cpu = settle(max(settle_s, 30.0), side.server)  # a few rounds of every periodic check
    avail1, rss1, pss1 = available(), rss(side.server), pss(side.server.proc.pid)
    mounts1 = mounts(side.server)
    per = (avail0 - avail1) / len(times) if times else 0.0
    total = psutil.virtual_memory().total
    t1 = time.perf_counter()
    side.disconnect_all(pairs)
    out = {
        "k": k, "batch": batch, "ok": len(times), "failures": len(failures),
        "failure_messages": failures[:10], "connect_all_s": round(connect_s, 1),
        "disconnect_all_s": round(time.perf_counter() - t1, 1),
        "connect_p50_ms": pct(times, 50), "connect_p99_ms": pct(times, 99),
        "connect_max_ms": max(times) * 1000 if times else None,
        "avail_before_mib": avail0 / 2**20, "avail_after_mib": avail1 / 2**20,
        "mib_per_runtime": per / 2**20, "held_mib": (avail0 - avail1) / 2**20,
        "pss_mib_per_runtime": (pss1 - pss0) / len(times) / 2**20 if times else None,
        "server_rss_before_mib": rss0 / 2**20, "server_rss_after_mib": rss1 / 2**20,
        "machine_total_mib": total / 2**20,
        "server_idle_cpu_pct": idle_cpu, "mounts_before": mounts0,
        "mounts_after": mounts1,
        "batch_walls_s": walls, "batch_p50_ms": batch_p50,
        "runtimes_in_24gib": int(24 * 2**30 / per) if per > 0 else None,
    }
    return out


# ---------------------------------------------------------------------------------------- report


def ms(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def mib(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def per_connect(f: dict[str, Any]) -> str:
    cpu = f.get("server_burst_cpu_s")
    return "-" if cpu is None or not f["n"] else f"{cpu / f['n'] * 1000:,.0f} ms"


def pct_of_core(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}%"


def ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or not b else f"{a / b:.2f}x"


def render(rounds: list[dict[str, dict[str, Any]]]) -> str:
    head = ("| N | phase | ok | failures | p50 ms | p99 ms | max ms | pool's answers p50 ms | "
            "MiB per idle runtime: available, PSS | server RSS MiB before -> after | "
            "server CPU per connect | server CPU, runtimes idle |")
    rows = [head, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    ratios = ["| N | cold p50 / raw p50 | cold max / raw max | warm p50 / raw p50 | "
              "warm max / raw max |", "|---:|---:|---:|---:|---:|"]
    for r in rounds:
        for side in ("cold", "warm", "raw"):
            f = r.get(side)
            if f is None:
                continue
            rss = ("-" if f["server_rss_before_mib"] is None else
                   f"{f['server_rss_before_mib']:.0f} -> {f['server_rss_after_mib']:.0f}")
            first = (f"{ms(f['first_pool_p50_ms'])} (pooled {f['pooled']}: "
                     f"{ms(f['pooled_p50_ms'])})" if side == "warm" else "")
            rows.append(f"| {f['n']} | {side} | {f['ok']} | {f['failures']} | {ms(f['p50_ms'])} "
                        f"| {ms(f['p99_ms'])} | {ms(f['max_ms'])} | {first} | "
                        f"{mib(f['mib_per_runtime'])}, {mib(f['pss_mib_per_runtime'])} | {rss} | "
                        f"{per_connect(f)} | {pct_of_core(f['server_idle_cpu_pct'])} |")
        raw = r.get("raw", {})
        cells = []
        for side in ("cold", "warm"):
            f = r.get(side, {})
            cells += [ratio(f.get("p50_ms"), raw.get("p50_ms")),
                      ratio(f.get("max_ms"), raw.get("max_ms"))]
        ratios.append(f"| {raw.get('n', '-')} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n\n" + "\n".join(ratios)


def render_hold(h: dict[str, Any]) -> str:
    return (f"{h['ok']} of {h['k']} runtimes connected ({h['failures']} failures), "
            f"{h['batch']} at once, in {h['connect_all_s']} s (connect p50 "
            f"{ms(h['connect_p50_ms'])} ms, p99 {ms(h['connect_p99_ms'])} ms, max "
            f"{ms(h['connect_max_ms'])} ms); held idle: available memory "
            f"{h['avail_before_mib']:,.0f} -> {h['avail_after_mib']:,.0f} MiB, "
            f"{h['held_mib']:,.0f} MiB in all, {h['mib_per_runtime']:.1f} MiB per runtime "
            f"(PSS of its processes {mib(h['pss_mib_per_runtime'])} MiB) "
            f"({h['runtimes_in_24gib']} would fit in 24 GiB); server RSS "
            f"{h['server_rss_before_mib']:.0f} -> {h['server_rss_after_mib']:.0f} MiB, its CPU "
            f"{pct_of_core(h['server_idle_cpu_pct'])} of a core while they sat idle, mount table "
            f"{h['mounts_before']} -> {h['mounts_after']} lines; connect p50 by batch (ms): "
            f"{', '.join(ms(v) for v in h['batch_p50_ms'])}; "
            f"all disconnected in {h['disconnect_all_s']} s")


# ------------------------------------------------------------------------------------------ main


def images_dir() -> str:
    """The tests' image cache (the ``minimal`` image), built first if it is missing."""
    path = os.environ.get("DIKTE_IMAGES_DIR") or os.environ.get("DIKTE_TEST_IMAGES") or str(
        Path.home() / ".cache" / "dikte-test-images")
    if not (Path(path) / "minimal").is_dir():
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        os.environ["DIKTE_TEST_IMAGES"] = path
        from tests.support.images import ensure_test_image
        log(f"building the minimal image into {path}")
        ensure_test_image()
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", default="1,10,50,100",
                    help="burst sizes, comma-separated (default 1,10,50,100)")
    ap.add_argument("--pool", type=int, default=4,
                    help="runtimes the warm server keeps started ahead (1-64; default 4)")
    ap.add_argument("--rounds", type=int, default=1, help="repeat every N's phases")
    ap.add_argument("--settle", type=float, default=5.0,
                    help="seconds the N runtimes sit idle before memory is read")
    ap.add_argument("--hold", type=int, default=0, metavar="K",
                    help="instead of bursts: connect K runtimes (--batch at once), hold them idle "
                         "and report memory per runtime")
    ap.add_argument("--batch", type=int, default=20, help="connects at once for --hold")
    ap.add_argument("--raw-transport", choices=["ipc", "tcp"], default="ipc",
                    help="ZeroMQ transport of the raw kernels (default ipc, as Dikte's runtimes; "
                         "over tcp, kernels started at once race for ports and some hang or die)")
    ap.add_argument("--start-concurrency", type=int, metavar="S",
                    help="diagnostic: the servers' runtime_start_concurrency (default: theirs, "
                         "0 = the CPU count)")
    ap.add_argument("--json", metavar="FILE", help="write every figure and sample as JSON")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (server logs) at the end")
    args = ap.parse_args(argv)
    sizes = [int(x) for x in args.n.split(",") if x.strip()]
    if not args.hold and (not sizes or min(sizes) < 1):
        ap.error("--n needs sizes of at least 1")
    if not 1 <= args.pool <= 64:
        ap.error("--pool must be 1-64")
    bench_core.RAW_TRANSPORT = args.raw_transport
    if os.geteuid() != 0:
        print("bench_scale needs root (sandboxed runtimes)", file=sys.stderr)
        return 2

    # SIGTERM should unwind through the finally blocks, like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    images = images_dir()
    os.environ.pop("DIKTE_CONFIG", None)  # each server's tier is <data dir>/dikte.toml
    root = Path(tempfile.mkdtemp(prefix="dikte-bench-scale-"))
    started = time.time()
    load_before = os.getloadavg()
    doc: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(started)),
                           "argv": sys.argv[1:], "pool": args.pool,
                           "start_concurrency": args.start_concurrency,
                           "raw_transport": args.raw_transport}
    if args.hold:
        people = math.ceil(args.hold / MAX_SESSIONS)
        sides = [Side(root, "cold", 0, people, math.ceil(args.hold / people), images,
                      args.start_concurrency)]
    else:
        sides = [Side(root, "cold", 0, max(sizes), 1, images, args.start_concurrency),
                 Side(root, "warm", args.pool, max(sizes), 1, images, args.start_concurrency)]
    rounds: list[dict[str, dict[str, Any]]] = []
    try:
        for side in sides:
            log(f"starting the {side.name} server (pool {side.pool}, data in "
                f"{side.server.data_dir})")
            side.start()
        if args.hold:
            log(f"holding {args.hold} runtimes:")
            doc["hold"] = hold(sides[0], args.hold, args.batch, args.settle)
        else:
            cold, warm = sides
            for _ in range(args.rounds):
                for n in sizes:
                    r: dict[str, dict[str, Any]] = {}
                    for phase in ("cold", "raw", "warm"):  # raw between the two Dikte phases
                        log(f"N={n}: {phase} burst")
                        b = (raw_burst(n, args.settle) if phase == "raw" else
                             dikte_burst(cold if phase == "cold" else warm, n, args.settle))
                        r[phase] = b.figures(args.pool)
                        f = r[phase]
                        cpu = ("" if f.get("server_burst_cpu_s") is None else
                               f", server CPU {f['server_burst_cpu_s']:.1f} s")
                        log(f"  p50 {ms(f['p50_ms'])} ms, max {ms(f['max_ms'])} ms{cpu}, "
                            f"{f['failures']} failures, {mib(f['mib_per_runtime'])} MiB each "
                            f"(PSS {mib(f['pss_mib_per_runtime'])})")
                        for msg in b.failures[:3]:
                            log(f"  failure: {msg}")
                    rounds.append(r)
            doc["rounds"] = rounds
    finally:
        for side in sides:
            side.close()
            stop_and_clean(side.server, root / side.name, keep=args.keep)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    info = machine()
    info["loadavg_before"] = load_before
    info["memory_total_mib"] = psutil.virtual_memory().total / 2**20
    doc["elapsed_s"] = round(time.time() - started, 1)
    doc["machine"] = info
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    print(f"Dikte scale, {doc['date']}, {info['cpus']} CPUs, "
          f"{info['memory_total_mib'] / 1024:.1f} GiB, bubblewrap sandbox, "
          f"{'no pool' if args.hold else f'pool {args.pool}'}, "
          f"raw kernels over {args.raw_transport}, "
          f"load avg before {load_before[0]:.2f} / after {info['loadavg'][0]:.2f}, "
          f"{doc['elapsed_s']} s")
    if args.hold:
        print(render_hold(doc["hold"]))
    else:
        print(render(rounds))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted (runtimes disconnected, servers stopped)")
        sys.exit(130)

