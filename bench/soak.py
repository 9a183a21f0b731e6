"""A soak of Dikte: N people working for M minutes; latency, memory and fds per minute.

The script starts its own ``dikte serve`` (real sandbox, temporary data dir, a tier roomy enough
for everyone), makes N people through the admin API, and gives each a notebook and a runtime.
Then every person, paced (one action every 0.5-1 s, jittered), for M minutes:

  execute   runs a cell printing a few lines: ``execute`` sent on the notebook WebSocket -> that
            cell's idle ``cell_state`` with a ``last_status`` received
  edit      a ``set_source`` edit on another cell: sent -> its ``edited`` echo received
  reopen    every 30-60 s (jittered): closes its WebSocket and opens a new one, until the
            ``snapshot`` arrives

Each minute one line: executes done, execute p50/p99, edit echo p50/p99, reopens, errors, the
control plane's RSS (its own process, not the runtimes) and open fds.  At the end, a Markdown
table and a verdict; the exit status is 1 when the soak failed:

  memory    the last minute's RSS is over 1.25x that of the first minute after the warm-up
  p99       execute or edit-echo p99 of the last minute is over 1.5x that first minute's
  errors    any (a timeout, an error message, a cell that did not end ok, a dropped socket)

The first minute (--warmup-minutes) is a warm-up, reported but not compared; a run too short
for a warm-up and two minutes compares from its first minute.  Every runtime is disconnected
and the server stopped on the way out, Ctrl-C and errors included.
Usage:  .venv/bin/python bench/soak.py [--people N] [--minutes M] [--json FILE] (see --help)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import psutil
from bench_core import Api, Server, machine, stop_and_clean
from websockets.asyncio.client import ClientConnection, connect

NOTEBOOK = "Notebooks/soak.ipynb"
PRINT_CELL = "for i in range(4):\n    print(f'soak line {i}')"
MSG_TIMEOUT = 30.0
RSS_LIMIT = 1.25
P99_LIMIT = 1.5


def tier_config(people: int) -> str:
    """Every person's tier (free, the default): a runtime each, connects never rate-limited,
    no time limit that a soak could reach."""
    return f"""\
[tiers.free]
name = "free"
idle_timeout_s = 36000
max_lifetime_s = 72000
disconnect_grace_s = 36000
daily_accelerator_hours = 0
drive_quota = "10GiB"
connect_limit = {max(1000, 10 * people)}
[tiers.free.shapes.standard]
max_sessions = 4
memory = "2GiB"
disk = "4GiB"
"""


# ---------------------------------------------------------------------------------------- figures


def pct(samples: list[float], q: int) -> float | None:
    """The q-th percentile (1-99) of samples in ms, interpolated; None without samples."""
    if not samples:
        return None
    if len(samples) == 1:
        return samples[0] * 1000
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1] * 1000


@dataclass
class Minute:
    executes: list[float] = field(default_factory=list)
    echoes: list[float] = field(default_factory=list)
    reopens: list[float] = field(default_factory=list)
    errors: int = 0
    rss: int = 0
    rss_max: int = 0
    fds: int = 0
    journal_bytes: int = 0

    def figures(self, number: int) -> dict[str, Any]:
        return {
            "minute": number,
            "executes": len(self.executes),
            "execute_p50_ms": pct(self.executes, 50), "execute_p99_ms": pct(self.executes, 99),
            "edits": len(self.echoes),
            "echo_p50_ms": pct(self.echoes, 50), "echo_p99_ms": pct(self.echoes, 99),
            "reopens": len(self.reopens), "reopen_p50_ms": pct(self.reopens, 50),
            "errors": self.errors,
            "rss_mib": round(self.rss / 2**20, 1), "rss_max_mib": round(self.rss_max / 2**20, 1),
            "fds": self.fds, "journal_kib": round(self.journal_bytes / 1024, 1),
        }


class Soak:
    """Figures by minute since the start; samples go to the minute they ended in."""

    def __init__(self, minutes: int, server_pid: int, journal_dir: Path) -> None:
        self.minutes = [Minute() for _ in range(minutes)]
        self.start()
        self.server = psutil.Process(server_pid)
        self.journal_dir = journal_dir
        self.error_kinds: Counter[str] = Counter()

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.end = self.t0 + 60 * len(self.minutes)

    def now(self) -> Minute:
        return self.minutes[min(int((time.monotonic() - self.t0) // 60), len(self.minutes) - 1)]

    def error(self, who: str, what: str) -> None:
        self.now().errors += 1
        self.error_kinds[what[:160]] += 1
        if self.error_kinds[what[:160]] == 1:
            log(f"  error ({who}): {what[:300]}")

    def sample_server(self, minute: Minute) -> None:
        with self.server.oneshot():
            minute.rss = self.server.memory_info().rss
            minute.fds = self.server.num_fds()
        minute.rss_max = max(minute.rss_max, minute.rss)
        with contextlib.suppress(OSError):
            minute.journal_bytes = sum(f.stat().st_size for f in self.journal_dir.rglob("*")
                                       if f.is_file())


HEAD = (f"{'min':>3} {'execs':>6} {'exec p50':>9} {'p99':>8} {'edits':>6} {'echo p50':>9} "
        f"{'p99':>8} {'reopen':>6} {'errors':>6} {'RSS MiB':>8} {'fds':>5}")


def ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}ms"


def line(f: dict[str, Any]) -> str:
    return (f"{f['minute']:>3} {f['executes']:>6} {ms(f['execute_p50_ms']):>9} "
            f"{ms(f['execute_p99_ms']):>8} {f['edits']:>6} {ms(f['echo_p50_ms']):>9} "
            f"{ms(f['echo_p99_ms']):>8} {f['reopens']:>6} {f['errors']:>6} "
            f"{f['rss_mib']:>8.1f} {f['fds']:>5}")


def markdown(rows: list[dict[str, Any]]) -> str:
    out = ["| minute | executes | execute p50 | execute p99 | edits | echo p50 | echo p99 | "
           "reopens | errors | server RSS | fds |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for f in rows:
        out.append(f"| {f['minute']} | {f['executes']} | {ms(f['execute_p50_ms'])} | "
                   f"{ms(f['execute_p99_ms'])} | {f['edits']} | {ms(f['echo_p50_ms'])} | "
                   f"{ms(f['echo_p99_ms'])} | {f['reopens']} | {f['errors']} | "
                   f"{f['rss_mib']:.1f} MiB | {f['fds']} |")
    return "\n".join(out)


def verdict(rows: list[dict[str, Any]], warmup: int) -> tuple[list[str], list[str]]:
    """(failures, notes): memory and p99 of the last minute against the first one after the
    warm-up, and errors anywhere."""
    failures: list[str] = []
    notes: list[str] = []
    if (errors := sum(f["errors"] for f in rows)):
        failures.append(f"errors: {errors} (must be 0)")
    if len(rows) < 2:
        notes.append("one minute: nothing to compare memory and p99 with")
        return failures, notes
    base_i = warmup if len(rows) >= warmup + 2 else 0
    if base_i < warmup:
        notes.append(f"too short for a {warmup}-minute warm-up and two minutes to compare: "
                     "compared from minute 1")
    base, last = rows[base_i], rows[-1]
    ratio = last["rss_mib"] / base["rss_mib"]
    text = (f"memory: {last['rss_mib']:.1f} MiB in minute {last['minute']} against "
            f"{base['rss_mib']:.1f} MiB in minute {base['minute']} ({ratio:.2f}x, "
            f"limit {RSS_LIMIT}x)")
    (failures if ratio > RSS_LIMIT else notes).append(text)
    for key, name in (("execute_p99_ms", "execute p99"), ("echo_p99_ms", "edit echo p99")):
        if base[key] is None or last[key] is None:
            failures.append(f"{name}: no samples in minute {base['minute']} or {last['minute']}")
            continue
        ratio = last[key] / base[key]
        text = (f"{name}: {last[key]:.1f} ms in minute {last['minute']} against "
                f"{base[key]:.1f} ms in minute {base['minute']} ({ratio:.2f}x, limit {P99_LIMIT}x)")
        (failures if ratio > P99_LIMIT else notes).append(text)
    return failures, notes


# ---------------------------------------------------------------------------------------- people


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Person:
    name: str
    api: Api
    print_cell: str = ""
    edit_cell: str = ""


def new_person(admin: Api, server: Server, name: str) -> Api:
    """A person made through the admin API, signed in once to make their own (write) token."""
    password = secrets.token_urlsafe(16)
    admin.call("POST", "/api/people", json={"name": name, "password": password})
    with httpx.Client(base_url=server.url, headers={"Origin": server.url}, timeout=60) as web:
        r = web.post("/api/auth/login", json={"name": name, "password": password})
        r.raise_for_status()
        r = web.post("/api/tokens", json={"name": "bench", "scopes": ["write"]})
        r.raise_for_status()
    return Api(server.url, r.json()["token"])


def make_people(admin: Api, server: Server, n: int, people: list[Person]) -> None:
    """N people through the admin API, each signed in once to make their own token, with a
    notebook (a print cell and a cell to edit) and a connected runtime; into ``people`` as they
    are made, so that an interruption still disconnects those made so far."""
    for i in range(n):
        name = f"soak{i + 1:02d}"
        person = Person(name, new_person(admin, server, name))
        people.append(person)
        person.print_cell, person.edit_cell = person.api.new_notebook(
            NOTEBOOK, [PRINT_CELL, "# edited by the soak"])
        t0 = time.perf_counter()
        person.api.connect(NOTEBOOK)
        server.note_children()
        log(f"  {name}: runtime connected in {(time.perf_counter() - t0) * 1000:.0f} ms")


class Worker:
    """One person's WebSocket, read in their own task: every action reads until its answer."""

    def __init__(self, person: Person, soak: Soak, pace: tuple[float, float],
                 reopen_every: tuple[float, float]) -> None:
        self.p = person
        self.soak = soak
        self.pace = pace
        self.reopen_every = reopen_every
        self.ws: ClientConnection | None = None
        self.edits = 0
        base = person.api.url.replace("http://", "ws://")
        self.url = f"{base}/api/notebooks/ws?path={quote(NOTEBOOK)}"

    async def recv(self) -> dict[str, Any]:
        assert self.ws is not None
        msg: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), MSG_TIMEOUT))
        if msg.get("type") == "error":
            raise RuntimeError(f"server error {msg.get('code')}: {msg.get('message')}")
        return msg

    async def open(self) -> float:
        t0 = time.perf_counter()
        self.ws = await asyncio.wait_for(connect(
            self.url, additional_headers={"Authorization": f"Bearer {self.p.api.token}"},
            max_size=None), MSG_TIMEOUT)
        first = await self.recv()
        if first.get("type") != "snapshot":
            raise RuntimeError(f"expected a snapshot first, got {first.get('type')}")
        return time.perf_counter() - t0

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 10)
            self.ws = None

    async def execute(self) -> float:
        assert self.ws is not None
        cid = self.p.print_cell
        t0 = time.perf_counter()
        await self.ws.send(json.dumps({"type": "execute", "cell_id": cid}))
        while True:
            msg = await self.recv()
            if (msg.get("type") == "cell_state" and msg.get("cell_id") == cid
                    and msg.get("state") == "idle" and msg.get("last_status") is not None):
                if msg["last_status"] != "ok":
                    raise RuntimeError(f"the print cell ended {msg['last_status']}")
                return time.perf_counter() - t0

    async def edit(self) -> float:
        assert self.ws is not None
        self.edits += 1
        cid, source = self.p.edit_cell, f"# edit {self.edits} by {self.p.name}"
        t0 = time.perf_counter()
        await self.ws.send(json.dumps({"type": "edit", "ops": [
            {"op": "set_source", "cell_id": cid, "source": source}]}))
        while True:
            msg = await self.recv()
            if msg.get("type") == "edited" and any(
                    op.get("cell_id") == cid and op.get("source") == source
                    for op in msg.get("ops", ())):
                return time.perf_counter() - t0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_reopen = loop.time() + random.uniform(*self.reopen_every)
        # spread the first actions over one pace interval
        await asyncio.sleep(random.uniform(0, self.pace[1]))
        while time.monotonic() < self.soak.end:
            try:
                if self.ws is None:  # closed after an error
                    self.soak.now().reopens.append(await self.open())
                elif loop.time() >= next_reopen:
                    await self.close()
                    dt = await self.open()
                    self.soak.now().reopens.append(dt)
                    next_reopen = loop.time() + random.uniform(*self.reopen_every)
                elif random.random() < 0.5:
                    self.soak.now().executes.append(await self.execute())
                else:
                    self.soak.now().echoes.append(await self.edit())
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # counted, and the socket is opened afresh
                what = "timed out" if isinstance(exc, TimeoutError) else f"{exc}"
                self.soak.error(self.p.name, f"{type(exc).__name__}: {what}")
                await self.close()
            await asyncio.sleep(random.uniform(*self.pace))
        await self.close()


async def soak_loop(soak: Soak, people: list[Person], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Run the people until the end; print each minute's line as it ends."""
    rows: list[dict[str, Any]] = []
    workers = [Worker(p, soak, (args.pace * 2 / 3, args.pace * 4 / 3),
                      (args.reopen_every / 2, args.reopen_every * 1.5)) for p in people]
    tasks: list[asyncio.Task[None]] = []
    try:
        await asyncio.gather(*(w.open() for w in workers))  # before the clock starts
        soak.start()
        tasks = [asyncio.create_task(w.run()) for w in workers]
        print(HEAD, flush=True)
        for i, minute in enumerate(soak.minutes[:-1]):
            while (left := soak.t0 + 60 * (i + 1) - time.monotonic()) > 0:
                await asyncio.sleep(min(5.0, left))
                soak.sample_server(minute)  # every 5 s for the max; the last one is the minute's
            rows.append(minute.figures(i + 1))
            print(line(rows[-1]), flush=True)
        last = soak.minutes[-1]
        while soak.end - time.monotonic() > 0:
            await asyncio.sleep(min(5.0, soak.end - time.monotonic()))
            soak.sample_server(last)
        await asyncio.gather(*tasks)  # the actions under way when time ran out
        soak.sample_server(last)
        rows.append(last.figures(len(soak.minutes)))
        print(line(rows[-1]), flush=True)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for w in workers:
            await w.close()
    return rows


# ------------------------------------------------------------------------------------------ main


def end_runtimes(admin: Api | None, people: list[Person]) -> None:
    """Disconnect every person's runtime; then, as a safety net, end any the admin still sees."""
    for p in people:
        with contextlib.suppress(Exception):
            p.api.disconnect(NOTEBOOK)
        p.api.http.close()
    if admin is not None:
        with contextlib.suppress(Exception):
            for s in admin.call("GET", "/api/admin/sessions"):
                admin.call("DELETE", f"/api/admin/sessions/{s['runtime_id']}")
        admin.http.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--people", type=int, default=20)
    ap.add_argument("--minutes", type=int, default=10)
    ap.add_argument("--warmup-minutes", type=int, default=1,
                    help="minutes reported but left out of the memory and p99 comparison")
    ap.add_argument("--pace", type=float, default=0.75,
                    help="mean seconds between one person's actions (jittered +-1/3)")
    ap.add_argument("--reopen-every", type=float, default=45.0,
                    help="mean seconds between one person's WebSocket reopens (jittered +-1/2)")
    ap.add_argument("--json", metavar="FILE", help="write the per-minute figures to FILE as JSON")
    ap.add_argument("--unsafe-no-sandbox", action="store_true",
                    help="run the kernels without bubblewrap (development only; not for "
                         "recorded figures)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (server log) at the end")
    args = ap.parse_args(argv)
    if args.people < 1 or args.minutes < 1:
        ap.error("--people and --minutes must be at least 1")

    # SIGTERM should unwind through the finally blocks, like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    root = Path(tempfile.mkdtemp(prefix="dikte-soak-"))
    server = Server(root, no_sandbox=args.unsafe_no_sandbox)
    # the soak's tier, read from <data dir>/dikte.toml: no DIKTE_CONFIG may take its place
    os.environ.pop("DIKTE_CONFIG", None)
    server.data_dir.mkdir()
    (server.data_dir / "dikte.toml").write_text(tier_config(args.people))
    started = time.time()
    load_before = os.getloadavg()
    admin: Api | None = None
    people: list[Person] = []
    rows: list[dict[str, Any]] = []
    soak: Soak | None = None
    try:
        log(f"starting dikte serve (data in {root})")
        server.start()
        assert server.proc is not None
        admin = Api(server.url, server.token)
        log(f"making {args.people} people, each with a notebook and a runtime:")
        make_people(admin, server, args.people, people)
        log(f"soak: {args.people} people for {args.minutes} min, an action every "
            f"~{args.pace:g} s each, WebSocket reopened every ~{args.reopen_every:g} s")
        soak = Soak(args.minutes, server.proc.pid, server.data_dir / "journal")
        rows = asyncio.run(soak_loop(soak, people, args))
    finally:
        end_runtimes(admin, people)
        stop_and_clean(server, root, keep=args.keep)

    assert soak is not None
    failures, notes = verdict(rows, args.warmup_minutes)
    info = machine()
    info["loadavg_before"] = load_before
    doc = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(started)),
        "elapsed_s": round(time.time() - started, 1),
        "people": args.people, "minutes": args.minutes, "pace_s": args.pace,
        "reopen_every_s": args.reopen_every, "warmup_minutes": args.warmup_minutes,
        "sandbox": not args.unsafe_no_sandbox, "machine": info,
        "minutes_figures": rows, "errors": dict(soak.error_kinds),
        "passed": not failures, "failures": failures, "notes": notes,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    print()
    print(f"Dikte soak, {doc['date']}, {args.people} people x {args.minutes} min, "
          f"{info['cpus']} CPUs, {'bubblewrap sandbox' if doc['sandbox'] else 'NO sandbox'}, "
          f"load avg before {load_before[0]:.2f} / after {info['loadavg'][0]:.2f}, "
          f"{doc['elapsed_s']} s")
    print()
    print(markdown(rows))
    print()
    for kind, n in soak.error_kinds.most_common():
        print(f"error x{n}: {kind}")
    for text in notes:
        print(f"ok: {text}")
    for text in failures:
        print(f"FAILED: {text}")
    print("PASSED" if not failures else "FAILED")
    return 0 if not failures else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted (runtimes disconnected, server stopped)")
        sys.exit(130)
