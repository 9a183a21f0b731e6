"""Runtimes on a cluster node against local runtimes, measured in one run on one machine.

Two ``dikte serve`` run side by side from temporary data dirs: one with the local backend, one
with the Ray backend on a loopback-only cluster of a head and three nodes (``dikte cluster
local``) on this same machine. Samples of the two are interleaved, so load hits both alike.

  connect    POST /api/notebooks/connect -> kernel ready (disconnected between samples)
  roundtrip  a trivial cell (``1``): ``execute`` on the WebSocket -> the idle ``cell_state``
  lines      a cell printing 200,000 lines, until done, reading every delta
  memory     what a remote runtime costs beyond its kernel: the PSS its node host (relay,
             handles) grows by per runtime, over ``--memory-runtimes`` runtimes; beside it, the
             PSS of a runtime's own processes other than the kernel (sandbox launcher,
             slirp4netns), the same for local and remote runtimes
  idle       ``--idle`` runtimes (default 200) started across the three nodes: how long that
             took, where they landed, the control plane's RSS and CPU while they sit idle, and
             a round trip with all of them running

Nothing here asserts on timings.  Usage:  .venv/bin/python bench/bench_cluster.py [--idle N]
[--json FILE] (see --help).  Needs root (network namespaces, sandboxes) and a built runtime
image (``DIKTE_IMAGES_DIR``, default the tests' cache ~/.cache/dikte-test-images).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import Api, Series, Server, log, machine, timed

from dikte.config import load_settings
from dikte.runtimes.ray.cluster import LocalCluster

NOTEBOOK = "Notebooks/bench_cluster.ipynb"
TIER = """\
reaper_seconds = 1
runtime_cpus = 0
[tiers.free]
name = "free"
idle_timeout_s = 36000
max_lifetime_s = 72000
disconnect_grace_s = 36000
drive_quota = "20GiB"
daily_accelerator_hours = 0
connect_limit = 100000
[tiers.free.shapes.standard]
max_sessions = 1000
memory = "{memory}"
disk = "64MiB"
"""


def pss(pid: int) -> int:
    try:
        return int(psutil.Process(pid).memory_full_info().pss)
    except psutil.Error:
        return 0


def runtime_processes(runtime_id: str) -> list[psutil.Process]:
    """The processes of a runtime: those whose cgroup names it (the sandbox launcher,
    slirp4netns, the kernel and its children)."""
    out = []
    for proc in psutil.process_iter(["pid"]):
        with contextlib.suppress(OSError, psutil.Error):
            if f"/{runtime_id}" in Path(f"/proc/{proc.pid}/cgroup").read_text():
                out.append(proc)
    return out


def beyond_kernel(runtime_id: str) -> tuple[int, int]:
    """(PSS of the runtime's processes other than the kernel, the kernel's PSS)."""
    other = kernel = 0
    for proc in runtime_processes(runtime_id):
        with contextlib.suppress(psutil.Error):
            size = int(proc.memory_full_info().pss)
            if "dikte/kernel/launch.py" in " ".join(proc.cmdline()):
                kernel += size
            else:
                other += size
    return other, kernel


def cpu_seconds(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return float(t.user + t.system)


def notebook(api: Api, path: str, sources: list[str]) -> list[str]:
    return api.new_notebook(path, sources)


def bench_pair(local: Api, remote: Api, *, connects: int, rtt_n: int, lines_n: int,
               lines: int) -> dict[str, tuple[Series, Series]]:
    ids = {}
    for api in (local, remote):
        ids[id(api)] = notebook(api, NOTEBOOK, ["1", f"for i in range({lines}): print(i)"])
    out: dict[str, tuple[Series, Series]] = {}
    rc, lc = Series("remote"), Series("local")
    for i in range(connects + 1):  # sample 0 of each is a warm-up
        for api, series in ((remote, rc), (local, lc)):
            dt, _ = timed(lambda api=api: api.connect(NOTEBOOK))  # type: ignore[misc]
            api.disconnect(NOTEBOOK)
            if i:
                series.add(dt)
        log(f"  connect {i}/{connects}: remote {rc.samples[-1:] or '-'} local "
            f"{lc.samples[-1:] or '-'}")
    out["connect"] = (rc, lc)
    socks = {}
    for api in (local, remote):
        api.connect(NOTEBOOK)
        socks[id(api)] = api.socket(NOTEBOOK)
    try:
        for _ in range(20):  # warm-up
            for api in (remote, local):
                socks[id(api)].run(ids[id(api)][0])
        rr, lr = Series("remote"), Series("local")
        for _ in range(rtt_n):
            for api, series in ((remote, rr), (local, lr)):
                dt, (status, _) = timed(lambda api=api: socks[id(api)].run(ids[id(api)][0]))  # type: ignore[misc]
                if status != "ok":
                    raise RuntimeError(f"trivial cell ended {status}")
                series.add(dt)
        log(f"  roundtrip: remote p50 {rr.p50() * 1000:.2f} ms, local p50 {lr.p50() * 1000:.2f} ms")
        out["roundtrip"] = (rr, lr)
        rl, ll = Series("remote"), Series("local")
        for i in range(lines_n):
            for api, series in ((remote, rl), (local, ll)):
                dt, (status, _) = timed(lambda api=api: socks[id(api)].run(ids[id(api)][1]))  # type: ignore[misc]
                if status != "ok":
                    raise RuntimeError(f"lines cell ended {status}")
                series.add(dt)
            log(f"  lines {i + 1}/{lines_n}: remote {rl.samples[-1] * 1000:.0f} ms, "
                f"local {ll.samples[-1] * 1000:.0f} ms")
        out["lines"] = (rl, ll)
    finally:
        for sock in socks.values():
            sock.close()
    return out


def node_hosts(api: Api) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in api.call("GET", "/api/admin/nodes")}


def bench_memory(remote: Api, local: Api, n: int) -> dict[str, Any]:
    hosts = node_hosts(remote)
    before = {name: pss(h["pid"]) for name, h in hosts.items()}
    paths = [f"Notebooks/mem-{i}.ipynb" for i in range(n)]
    infos = []
    for path in paths:
        notebook(remote, path, ["1"])
        infos.append(remote.connect(path))
    time.sleep(2)
    after = {name: pss(h["pid"]) for name, h in hosts.items()}
    grown = sum(after.values()) - sum(before.values())
    remote_other = [beyond_kernel(i["runtime_id"]) for i in infos]
    local_info = local.call("GET", "/api/sessions")
    local_other = [beyond_kernel(s["runtime_id"]) for s in local_info]
    for path in paths:
        remote.disconnect(path)
    return {
        "runtimes": n,
        "node_host_growth_per_runtime_bytes": grown / n,
        "remote_sandbox_processes_pss_bytes": sorted(o for o, _ in remote_other)[n // 2],
        "remote_kernel_pss_bytes": sorted(k for _, k in remote_other)[n // 2],
        "local_sandbox_processes_pss_bytes": (sorted(o for o, _ in local_other)[len(local_other) // 2]
                                              if local_other else None),
        "node_hosts_pss_bytes": after,
    }


def bench_idle(remote: Api, server: Server, n: int, rtt_n: int) -> dict[str, Any]:
    ids = notebook(remote, "Notebooks/idle-probe.ipynb", ["1"])
    sock_api = remote
    t0 = time.perf_counter()
    landed: dict[str, int] = {}
    for i in range(n):
        path = f"Notebooks/idle-{i}.ipynb"
        notebook(remote, path, ["1"])
        info = remote.connect(path)
        landed[info["node"]] = landed.get(info["node"], 0) + 1
        if (i + 1) % 20 == 0:
            log(f"  idle: {i + 1}/{n} started ({time.perf_counter() - t0:.0f} s)")
    started_s = time.perf_counter() - t0
    assert server.proc is not None
    cp = server.proc.pid
    time.sleep(5)
    c0, w0 = cpu_seconds(cp), time.monotonic()
    time.sleep(30)
    cpu = (cpu_seconds(cp) - c0) / (time.monotonic() - w0)
    rss = psutil.Process(cp).memory_info().rss
    remote.connect("Notebooks/idle-probe.ipynb")
    sock = sock_api.socket("Notebooks/idle-probe.ipynb")
    rt = Series("remote")
    try:
        for _ in range(10):
            sock.run(ids[0])
        for _ in range(rtt_n):
            dt, _ = timed(lambda: sock.run(ids[0]))
            rt.add(dt)
    finally:
        sock.close()
    hosts = node_hosts(remote)
    return {"runtimes": n, "start_all_s": started_s, "per_node": landed,
            "control_plane_rss_bytes": rss, "control_plane_cpu_idle": cpu,
            "node_hosts_pss_bytes": {name: pss(h["pid"]) for name, h in hosts.items()},
            "roundtrip_with_all_idle": rt.summary()}


def render(results: dict[str, tuple[Series, Series]], lines: int) -> str:
    label = {"connect": "connect (request -> kernel ready)",
             "roundtrip": "trivial cell round trip (`1`)",
             "lines": f"{lines:,}-line print cell, until idle"}
    head = (f"{'measurement':<36} {'n':>4} {'remote p50':>11} {'p90':>9} {'local p50':>10} "
            f"{'p90':>9} {'ratio p50':>9} {'p90':>6}")
    rows = [head, "-" * len(head)]
    for key, (r, lo) in results.items():
        rows.append(f"{label[key]:<36} {len(r.samples):>4} {r.p50() * 1000:>9.2f}ms "
                    f"{r.p90() * 1000:>7.2f}ms {lo.p50() * 1000:>8.2f}ms {lo.p90() * 1000:>7.2f}ms "
                    f"{r.p50() / lo.p50():>8.2f}x {r.p90() / lo.p90():>5.2f}x")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--connect-samples", type=int, default=5)
    ap.add_argument("--roundtrip-samples", type=int, default=200)
    ap.add_argument("--lines-samples", type=int, default=3)
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--memory-runtimes", type=int, default=10)
    ap.add_argument("--idle", type=int, default=200, help="idle runtimes across the nodes")
    ap.add_argument("--runtime-memory", default="256MiB", help="each runtime's RAM limit")
    ap.add_argument("--json", metavar="FILE", help="write every figure and sample as JSON")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("bench_cluster needs root (network namespaces and sandboxes)", file=sys.stderr)
        return 2
    images = os.environ.get("DIKTE_IMAGES_DIR") or str(Path.home() / ".cache"
                                                        / "dikte-test-images")
    root = Path(tempfile.mkdtemp(prefix="dikte-bench-cluster-"))
    (root / "dikte.toml").write_text(TIER.format(memory=args.runtime_memory))
    env = {"DIKTE_IMAGES_DIR": images, "DIKTE_CONFIG": str(root / "dikte.toml")}
    local_srv = Server(root / "local", no_sandbox=False, env=env)
    remote_srv = Server(root / "ray", no_sandbox=False, env={
        **env, "DIKTE_RUNTIME_BACKEND": "ray", "DIKTE_RAY_ADDRESS": "local"})
    for srv in (local_srv, remote_srv):
        srv.data_dir.mkdir(parents=True)
    cluster = LocalCluster(remote_srv.data_dir / "cluster")
    report: dict[str, Any] = {"machine": machine()}
    try:
        log("starting a local cluster of three nodes")
        settings = load_settings(None, data_dir=remote_srv.data_dir, images_dir=images)
        cluster.start(settings, nodes=3, node_cpus=2, node_memory=64 * 2**30,
                      max_runtimes=1000, say=log)
        local_srv.start()
        remote_srv.start(timeout=120)
        local, remote = Api(local_srv.url, local_srv.token), Api(remote_srv.url, remote_srv.token)
        pair = bench_pair(local, remote, connects=args.connect_samples,
                          rtt_n=args.roundtrip_samples, lines_n=args.lines_samples,
                          lines=args.lines)
        print(render(pair, args.lines), flush=True)
        report["pair"] = {k: {"remote": r.summary(), "local": lo.summary()}
                          for k, (r, lo) in pair.items()}
        memory = bench_memory(remote, local, args.memory_runtimes)
        report["memory"] = memory
        print(f"memory: node host grows {memory['node_host_growth_per_runtime_bytes'] / 2**20:.1f} "
              f"MiB per remote runtime; a runtime's sandbox processes other than the kernel: "
              f"remote {memory['remote_sandbox_processes_pss_bytes'] / 2**20:.1f} MiB, local "
              f"{(memory['local_sandbox_processes_pss_bytes'] or 0) / 2**20:.1f} MiB; "
              f"the kernel {memory['remote_kernel_pss_bytes'] / 2**20:.1f} MiB", flush=True)
        local.end_all_sessions()
        remote.end_all_sessions()
        if args.idle:
            idle = bench_idle(remote, remote_srv, args.idle, 50)
            report["idle"] = idle
            print(f"idle: {idle['runtimes']} runtimes started in {idle['start_all_s']:.0f} s "
                  f"({', '.join(f'{k} {v}' for k, v in sorted(idle['per_node'].items()))}); "
                  f"control plane RSS {idle['control_plane_rss_bytes'] / 2**20:.0f} MiB, "
                  f"CPU {idle['control_plane_cpu_idle'] * 100:.1f}% while idle; round trip "
                  f"p50 {idle['roundtrip_with_all_idle']['p50_ms']:.2f} ms with all of them "
                  "running", flush=True)
            remote.end_all_sessions()
    finally:
        for srv in (local_srv, remote_srv):
            with contextlib.suppress(Exception):
                Api(srv.url, srv.token).end_all_sessions()
            srv.stop()
        cluster.stop(say=log)
        for srv in (local_srv,):
            srv.kill_leftovers()
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=1))
        if args.keep:
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
