"""What idle runtimes cost the machine's CPU: N people connect a notebook each through a real
``dikte serve`` (no runtimes started ahead), the runtimes sit idle for ``--settle`` seconds, then
every process's CPU time (utime + stime from /proc) is read twice, ``--seconds`` apart, and the
difference is printed per command name as a percentage of one CPU. Nothing here asserts on
timings. Run as root.  Usage:  .venv/bin/python bench/bench_idle_cpu.py [--n 20] [--seconds 20]
"""

from __future__ import annotations

import argparse
import collections
import os
import tempfile
import time
from pathlib import Path

import bench_scale as bs
from bench_core import stop_and_clean


def cpu_ticks() -> dict[int, tuple[str, int]]:
    """pid -> (command name, utime + stime in clock ticks) for every process now."""
    out: dict[int, tuple[str, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # ended meanwhile
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[int(entry)] = (comm, int(fields[11]) + int(fields[12]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20, help="idle runtimes")
    ap.add_argument("--seconds", type=float, default=20.0, help="how long to measure")
    ap.add_argument("--settle", type=float, default=10.0, help="idle time before measuring")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="dikte-bench-idle-cpu-"))
    os.environ.pop("DIKTE_CONFIG", None)
    side = bs.Side(root, "idle", 0, args.n, 1, bs.images_dir())
    try:
        side.start()
        results, wall = bs.at_once(args.n, lambda i: side.connect(i, 0))
        failures = sum(isinstance(out, Exception) for _, out in results)
        print(f"{args.n} connects in {wall:.1f} s, {failures} failures; idle {args.settle:.0f} s, "
              f"then measuring {args.seconds:.0f} s", flush=True)
        time.sleep(args.settle)
        before, t0 = cpu_ticks(), time.monotonic()
        time.sleep(args.seconds)
        after, elapsed = cpu_ticks(), time.monotonic() - t0
        used: collections.Counter[str] = collections.Counter()
        count: collections.Counter[str] = collections.Counter()
        for pid, (comm, ticks) in after.items():
            if pid in before and before[pid][0] == comm:
                used[comm] += ticks - before[pid][1]
                count[comm] += 1
        per_tick = 100 / os.sysconf("SC_CLK_TCK") / elapsed
        print(f"{'command':<24}{'processes':>10}{'% of one CPU':>14}")
        for comm, ticks in used.most_common():
            if ticks:
                print(f"{comm:<24}{count[comm]:>10}{ticks * per_tick:>14.2f}")
        print(f"{'all':<24}{sum(count.values()):>10}{sum(used.values()) * per_tick:>14.2f}")
        side.disconnect_all([(i, 0) for i in range(args.n)])
    finally:
        side.close()
        stop_and_clean(side.server, root, keep=False)


if __name__ == "__main__":
    main()
