"""``dikte cluster ...``: join a machine to a Ray cluster, or try one on a single machine.

- ``dikte cluster join --address HEAD:6379 --name gpu1 --node-ip 10.0.0.7``: on a worker
  machine (Dikte installed at the same path as on the head, the drives' shared filesystem
  mounted at the same path), check the sandbox, start Ray there with the machine's resources
  and its accelerators, and start Dikte's node host.
- ``dikte cluster local start -n 2 --gpu T4``: a head and two nodes on this machine, in a
  network namespace that has only a loopback; ``dikte serve`` with ``ray_address = "local"``
  uses it. ``dikte cluster local stop`` ends exactly what ``start`` started.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from dikte.config import Settings, parse_size


def add_commands(sub: Any, local_options: Callable[[argparse.ArgumentParser], None]) -> None:
    c = sub.add_parser("cluster", help="run runtimes on a Ray cluster").add_subparsers(
        dest="op", required=True)
    p = c.add_parser("join", help="join this machine to the cluster as a node for runtimes")
    local_options(p)
    p.add_argument("--address", required=True, help="the cluster's head, HOST:PORT")
    p.add_argument("--name", required=True,
                   help="this node's name (unique in the cluster; shown beside its runtimes)")
    p.add_argument("--node-ip", required=True,
                   help="this machine's address as the control plane reaches it")
    p.add_argument("--num-cpus", type=int, help="CPUs runtimes may reserve (default: all)")
    p.add_argument("--memory", type=parse_size,
                   help="memory runtimes may reserve, e.g. 60GiB (default: Ray's estimate)")
    p.add_argument("--max-runtimes", type=int, default=100,
                   help="most runtimes this node holds at once (default 100)")
    p.add_argument("--port-base", type=int,
                   help="first of 100 ports for Ray's per-node services (several nodes on "
                        "one address need distinct ranges)")
    p.add_argument("--ray-temp-dir", help="Ray's temporary folder for this node")
    p.add_argument("--relay-ports", default="49152-65535", metavar="MIN-MAX",
                   help="ports the kernel relays listen in; the control plane must reach them "
                        "(default 49152-65535)")
    p.add_argument("--accelerator", action="append", default=[], metavar="TYPE[:COUNT]",
                   help="declare logical accelerators without a device (to try GPU "
                        "placement on a machine without GPUs)")
    local = c.add_parser("local", help="a loopback-only cluster on this machine").add_subparsers(
        dest="local_op", required=True)
    p = local.add_parser("start", help="start a head and N nodes")
    local_options(p)
    p.add_argument("-n", "--nodes", type=int, default=2, help="worker nodes (default 2)")
    p.add_argument("--gpu", action="append", default=[], metavar="TYPE[:COUNT]",
                   help="logical accelerators of the next node without any (repeatable)")
    p.add_argument("--node-cpus", type=int, default=2, help="CPUs of each node (default 2)")
    p.add_argument("--node-memory", type=parse_size, default=4 * 2**30,
                   help="memory of each node (default 4GiB)")
    p.add_argument("--max-runtimes", type=int, default=100, help="runtimes per node")
    for op, helptext in (("stop", "end everything the local cluster started"),
                         ("status", "is a local cluster running, and where")):
        p = local.add_parser(op, help=helptext)
        local_options(p)


def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from dikte.runtimes.ray.cluster import ClusterError, JoinPlan, LocalCluster, join

    try:
        if args.op == "join":
            plan = JoinPlan(address=args.address, name=args.name, node_ip=args.node_ip,
                            max_runtimes=args.max_runtimes, num_cpus=args.num_cpus,
                            memory=args.memory, port_base=args.port_base,
                            temp_dir=args.ray_temp_dir, relay_ports=args.relay_ports,
                            logical_accelerators=list(args.accelerator))
            info = join(settings, plan, _say)
            accel = ", ".join(f"{d['type']} {d['id']}" for d in info["accelerators"]) or "none"
            print(f"node {info['name']} joined the cluster at {args.address} (accelerators: "
                  f"{accel})")
            return 0
        cluster = LocalCluster(settings.data_dir / "cluster")
        if args.local_op == "start":
            started = cluster.start(settings, nodes=args.nodes, gpu_nodes=args.gpu,
                                  node_cpus=args.node_cpus, node_memory=args.node_memory,
                                  max_runtimes=args.max_runtimes, say=_say)
            print(f"A local cluster of {args.nodes} nodes runs (head {started['address']}, "
                  "loopback only). Serve with it:\n"
                  f"    DIKTE_RUNTIME_BACKEND=ray DIKTE_RAY_ADDRESS=local dikte serve "
                  f"--data-dir {settings.data_dir}\n"
                  "Stop it with: dikte cluster local stop")
            return 0
        if args.local_op == "stop":
            if not cluster.stop(say=_say):
                print("no local cluster is running")
            return 0
        state = cluster.state()
        if state is None:
            print("no local cluster is running")
            return 1
        print(json.dumps({**state, "processes": len(cluster.pids())}, indent=2))
        return 0
    except ClusterError as exc:
        print(f"dikte cluster: {exc.message}", file=sys.stderr)
        return 1


def _say(line: str) -> None:
    print(line, flush=True)
