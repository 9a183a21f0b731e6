"""Killing the control plane at random moments, and checking what a crash must never do.

Each scenario starts a real ``dikte serve``, sets something going (cells printing, edits over a
WebSocket, a connect, a kernel restart, a disconnect), kills the server with SIGKILL after a
random delay (seeded: a failure names its seed), starts it again on the same data dir and then
checks the promises of docs/reliability.md: no cell ran twice, no acknowledged edit was lost, no
runtime was lost or orphaned, the notebook validates, and nothing is left behind.

How many kills: ``DIKTE_FAULT_KILLS`` per scenario (default 2); ``DIKTE_FAULT_SEED`` fixes the
seed (default: a new one, printed).
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from tests.support.procs import runtime_processes
from tests.support.server import CGROUP_BASES, Client, DikteServer

RUNTIME_ID = re.compile(r"[a-z0-9]{12}")


def kills() -> int:
    return int(os.environ.get("DIKTE_FAULT_KILLS", "2"))


def rng(name: str) -> tuple[random.Random, int]:
    seed = int(os.environ.get("DIKTE_FAULT_SEED") or random.SystemRandom().randrange(10**9))
    print(f"{name}: DIKTE_FAULT_SEED={seed}")
    return random.Random(f"{name}:{seed}"), seed


@dataclass
class Tally:
    """What the runs saw, for the record (docs/reliability.md)."""
    kills: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def report(self, name: str) -> None:
        print(f"{name}: {self.kills} kills; " + ", ".join(
            f"{k} {v}" for k, v in sorted(self.counts.items())))


def wait(pred: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll until ``pred`` gives something true; generous deadlines, never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def kill_and_restart(srv: DikteServer) -> Client:
    note_runtimes(srv)
    srv.stop(9)
    note_runtimes(srv)
    srv.start(timeout=120)
    return srv.client()


def live_ids(client: Client) -> set[str]:
    return {s["runtime_id"] for s in client.get("/api/sessions")}


SEEN: dict[Path, set[str]] = {}
"""Runtime ids each server's data dir has held (an orphan's cgroup outlives its instance
space only if a sweep is wrong; other servers' runtimes may run meanwhile, so only these
count)."""


def note_runtimes(srv: DikteServer) -> set[str]:
    seen = SEEN.setdefault(srv.data_dir, set())
    runtimes = srv.data_dir / "runtimes"
    if runtimes.is_dir():
        seen |= {e.name.removesuffix(".img") for e in runtimes.iterdir()
                 if RUNTIME_ID.fullmatch(e.name.removesuffix(".img"))}
    return seen


def leftovers(srv: DikteServer, live: set[str], since: float) -> list[str]:
    """Anything of a runtime that no session holds: instance spaces, and the cgroups and
    processes of every runtime this server's data dir has held."""
    found = []
    runtimes = srv.data_dir / "runtimes"
    if runtimes.is_dir():
        for entry in runtimes.iterdir():
            rid = entry.name.removesuffix(".img")
            if RUNTIME_ID.fullmatch(rid) and rid not in live:
                found.append(f"instance space {entry}")
    seen = note_runtimes(srv)
    for base in CGROUP_BASES:
        if not base.is_dir():
            continue
        for d in base.iterdir():
            try:
                fresh = d.stat().st_ctime >= since
            except OSError:
                continue
            if d.is_dir() and d.name in seen and d.name not in live and fresh:
                found.append(f"cgroup {d}")
                found += [f"process {p.pid} {p.info.get('cmdline')}"
                          for p in runtime_processes(d.name)]
    return found


def temp_files(srv: DikteServer) -> list[Path]:
    """Temporary files of interrupted writes in the drives and the journal."""
    out = []
    for root in (srv.data_dir / "drives", srv.data_dir / "journal"):
        if root.is_dir():
            out += [p for p in root.rglob("*") if p.name.startswith(".~dikte-")
                    or p.suffix == ".tmp"]
    return out


def notebook_file(srv: DikteServer, path: str) -> Path:
    (found,) = list((srv.data_dir / "drives").glob(f"*/{path}"))
    return found


def validate(srv: DikteServer, path: str) -> dict[str, Any]:
    doc = json.loads(notebook_file(srv, path).read_text())
    nbformat.validate(doc)
    return doc


def settled(client: Client, path: str) -> bool:
    """No cell of the notebook is queued or running."""
    view = client.view(path)
    return all(c["state"] == "idle" for c in view["cells"].values())


class Background:
    """A call made in a thread (a connect, a disconnect) that the kill may cut short."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[], Any]) -> None:
        try:
            self.result = fn()
        except BaseException as exc:  # the server died under it
            self.error = exc

    def join(self) -> None:
        self._thread.join(120)
