"""The machine's CPU per runtime start: N connects at once through Dikte (no runtimes started
ahead) against N kernels started at once with plain jupyter_client, as in bench_scale.py, with
the whole machine's busy CPU time (``psutil.cpu_times()``: user, system, nice, irq, softirq)
read before and after each burst (its answers, then its disconnects or shutdowns), divided by
N, and the server's own CPU with the processes it waited for. Nothing here asserts on timings.
Run as root.  Usage:  .venv/bin/python bench/bench_start_cpu.py [--n 10] [--rounds 2] [--start-concurrency S]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import bench_scale as bs
import psutil
from bench_core import stop_and_clean


def busy() -> float:
    t = psutil.cpu_times()
    return float(t.user + t.system + t.nice + t.irq + t.softirq)


def measure(name: str, n: int, burst: Callable[[], bs.Burst], server: psutil.Process | None) -> None:
    b0, s0 = busy(), sum(server.cpu_times()[:4]) if server else 0.0
    figures = burst().figures()
    b1, s1 = busy(), sum(server.cpu_times()[:4]) if server else 0.0
    own = f"{1000 * (s1 - s0) / n:5.0f} ms" if server else "    -"
    print(f"{name:>5} N={n} p50 {figures['p50_ms']:6.0f} ms  max {figures['max_ms']:6.0f} ms  "
          f"failures {figures['failures']}  machine CPU per start {1000 * (b1 - b0) / n:5.0f} ms"
          f"  server's {own}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10, help="connects (and raw kernels) at once")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--start-concurrency", type=int, default=None, metavar="S",
                    help="the server's runtime_start_concurrency (default: its own)")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="dikte-bench-start-cpu-"))
    os.environ.pop("DIKTE_CONFIG", None)
    side = bs.Side(root, "cold", 0, args.n, 1, bs.images_dir(), args.start_concurrency)
    try:
        side.start()
        bs.dikte_burst(side, 1, 0)  # the server's first-use work, out of the figures
        assert side.server.proc is not None
        server = psutil.Process(side.server.proc.pid)
        for _ in range(args.rounds):
            measure("raw", args.n, lambda: bs.raw_burst(args.n, 1), None)
            measure("dikte", args.n, lambda: bs.dikte_burst(side, args.n, 1), server)
    finally:
        side.close()
        stop_and_clean(side.server, root, keep=False)


if __name__ == "__main__":
    main()
