"""Joining machines to a Ray cluster for Dikte, and a loopback-only cluster on one machine.

``join``: on a worker machine, check the sandbox works there (as ``dikte doctor``), start the
node's raylet with its resources (CPUs, memory, one ``dikte-runtime`` per runtime it may hold,
its own ``dikte-node-<name>``, each accelerator type as ``dikte-gpu-<type>`` and as ``GPU``),
then start its node host.

``LocalCluster``: a head and N nodes in a network namespace of their own that has nothing but a
loopback (Ray binds 127.0.0.1 there: nothing of it is reachable from the host's network or from
anywhere else), held open by one ``sleep`` process. ``stop`` ends exactly the processes in that
namespace, after asking each node host to end its runtimes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dikte.config import AcceleratorConfig, Settings
from dikte.errors import DikteError
from dikte.runtimes.devices import inventory

HEAD_PORT = 6390
STATE_FILE = "local.json"


class ClusterError(DikteError):
    """A cluster step failed; ``message`` says what and what to do."""


def ray_command() -> str:
    """The ``ray`` of Dikte's own environment (every node must run the same Ray)."""
    here = Path(sys.executable).parent / "ray"
    found = str(here) if here.exists() else shutil.which("ray")
    if found is None:
        raise ClusterError("Ray is not installed in Dikte's environment: "
                           "pip install 'dikte[ray]' on every machine of the cluster.")
    return found


def port_options(base: int) -> list[str]:
    """Ray's per-node ports from ``base`` on (several nodes on one address need their own)."""
    return [f"--dashboard-agent-listen-port={base}", f"--dashboard-agent-grpc-port={base + 1}",
            f"--metrics-export-port={base + 2}", f"--runtime-env-agent-port={base + 3}",
            f"--min-worker-port={base + 10}", f"--max-worker-port={base + 99}"]


def _env() -> dict[str, str]:
    return {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}


def _run(argv: Sequence[str], what: str, timeout: float = 120.0,
         env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                              env={**_env(), **(env or {})}, stdin=subprocess.DEVNULL,
                              check=False)
    except subprocess.TimeoutExpired:
        raise ClusterError(f"{what} did not finish within {timeout:.0f} s.") from None
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise ClusterError(f"{what} failed:\n{tail}")
    return done.stdout


@dataclass
class JoinPlan:
    """What ``dikte cluster join`` starts on a machine."""

    address: str
    """The cluster's GCS address (``host:port`` of the head)."""
    name: str
    """This node's name in Dikte (unique in the cluster; shown beside its runtimes)."""
    node_ip: str
    """The address the control plane reaches this node at (kernel relays listen there)."""
    max_runtimes: int = 100
    num_cpus: int | None = None
    memory: int | None = None
    port_base: int | None = None
    temp_dir: str | None = None
    relay_ports: str = "49152-65535"
    """``MIN-MAX``: the ports the kernel relays listen in (open them to the control plane)."""
    logical_accelerators: list[str] = field(default_factory=list)
    """``TYPE[:COUNT]`` accelerators without a device (for trying GPU placement without GPUs)."""

    def node_settings(self, settings: Settings) -> Settings:
        extra = []
        for spec in self.logical_accelerators:
            type_, _, count = spec.partition(":")
            for i in range(int(count or 1)):
                extra.append(AcceleratorConfig(id=f"{self.name}-{type_.lower()}-{i}", type=type_))
        return settings.model_copy(update={"accelerators": [*settings.accelerators, *extra]})

    def resources(self, settings: Settings) -> dict[str, float]:
        res: dict[str, float] = {"dikte-runtime": self.max_runtimes,
                                 f"dikte-node-{self.name}": 1}
        for d in inventory(settings):
            if not d.reserved:
                res[f"dikte-gpu-{d.type}"] = res.get(f"dikte-gpu-{d.type}", 0) + 1
        return res

    def ray_start(self, settings: Settings) -> list[str]:
        gpus = sum(1 for d in inventory(settings) if not d.reserved)
        argv = [ray_command(), "start", f"--address={self.address}",
                f"--node-ip-address={self.node_ip}", f"--num-gpus={gpus}",
                f"--resources={json.dumps(self.resources(settings))}", "--disable-usage-stats"]
        if self.num_cpus is not None:
            argv.append(f"--num-cpus={self.num_cpus}")
        if self.memory is not None:
            argv += [f"--memory={self.memory}", "--object-store-memory=100000000"]
        if self.port_base is not None:
            argv += port_options(self.port_base)
        if self.temp_dir:
            argv.append(f"--temp-dir={self.temp_dir}")
        return argv


def join(settings: Settings, plan: JoinPlan, say: Callable[[str], None]) -> dict[str, Any]:
    """Check, start the raylet, start the node host; returns the node as the cluster sees it."""
    from dikte.runtimes.doctor import host_report

    settings = plan.node_settings(settings)
    if settings.runtime_network != "isolated":
        raise ClusterError("Cluster nodes give runtimes networks of their own: set "
                           "runtime_network = \"isolated\" on this machine.")
    report = host_report(sandbox_uid_base=settings.sandbox_uid_base,
                         network=settings.runtime_network)
    if not report.sandbox_ok:
        raise ClusterError("This machine cannot build the runtime sandbox:\n" + report.render())
    say(f"node {plan.name}: sandbox works; starting Ray's node process")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _run(plan.ray_start(settings), "ray start")
    say(f"node {plan.name}: starting its node host")
    host_info = _run([sys.executable, "-m", "dikte.runtimes.ray.start_host", plan.address,
                      plan.name, plan.node_ip, json.dumps(node_settings_json(settings)),
                      plan.relay_ports],
                     "starting the node host")
    info: dict[str, Any] = json.loads(host_info.strip().splitlines()[-1])
    return info


def node_settings_json(settings: Settings) -> dict[str, Any]:
    from dikte.runtimes.ray.host import node_settings

    return node_settings(settings)


# -- a cluster on one machine, on loopback only -------------------------------------------------


@dataclass
class LocalCluster:
    """A loopback-only cluster of a head and ``nodes`` workers on this machine."""

    folder: Path
    """Where its state, Ray's temporary folders and the nodes' data dirs go."""

    @property
    def state_file(self) -> Path:
        return self.folder / STATE_FILE

    def ray_temp(self, name: str) -> Path:
        """Ray's temporary folder for ``name`` (head or node), on a short path: Ray's unix
        sockets live there, and their paths may have at most 107 bytes."""
        tag = hashlib.sha256(str(self.folder.resolve()).encode()).hexdigest()[:10]
        return Path(tempfile.gettempdir()) / f"dikte-ray-{tag}" / name

    def state(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        return data if _alive(int(data.get("holder", 0))) else None

    def netns(self) -> Path:
        state = self.state()
        if state is None:
            raise ClusterError("No local cluster is running; start one with "
                               "`dikte cluster local start`.")
        return Path(f"/proc/{state['holder']}/ns/net")

    def start(self, settings: Settings, *, nodes: int, gpu_nodes: Sequence[str] = (),
              node_cpus: int = 2, node_memory: int = 4 * 2**30, max_runtimes: int = 100,
              say: Callable[[str], None] = print) -> dict[str, Any]:
        """Start it (refused when one runs). ``gpu_nodes``: ``TYPE[:COUNT]`` logical
        accelerators, one entry per node from the first."""
        if os.geteuid() != 0:
            raise ClusterError("A local cluster needs root (network namespaces, sandboxes).")
        if self.state() is not None:
            raise ClusterError(f"A local cluster already runs (see {self.state_file}); stop it "
                               "first with `dikte cluster local stop`.")
        self.folder.mkdir(parents=True, exist_ok=True)
        # the holder: a sleep in a new network namespace, nobody's child (setsid --fork), so
        # it outlives this command; it writes its pid, which unshare and exec keep
        pid_file = self.folder / "holder.pid"
        pid_file.unlink(missing_ok=True)
        subprocess.run(
            ["setsid", "--fork", "sh", "-c", 'echo $$ > "$0" && exec unshare --net -- sh -c '
             '"ip link set lo up && exec sleep infinity"', str(pid_file)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            check=True, timeout=30)
        holder = _read_pid(pid_file)
        net = Path(f"/proc/{holder}/ns/net")
        state: dict[str, Any] = {"holder": holder, "address": f"127.0.0.1:{HEAD_PORT}",
                                 "netns": str(net), "nodes": []}
        self.state_file.write_text(json.dumps(state))
        try:
            _wait_for_loopback(holder)
            inside = ["nsenter", f"--net={net}", "--"]
            say("head: starting Ray's head (no runtimes run there)")
            _run([*inside, ray_command(), "start", "--head", "--node-ip-address=127.0.0.1",
                  f"--port={HEAD_PORT}", "--num-cpus=0", "--num-gpus=0",
                  "--include-dashboard=false", "--memory=1000000000",
                  "--object-store-memory=100000000", *port_options(52300),
                  f"--temp-dir={self.ray_temp('head')}", "--disable-usage-stats"],
                 "ray start --head")
            for i in range(nodes):
                name = f"node{i + 1}"
                argv = [*inside, sys.executable, "-m", "dikte.cli.main", "cluster", "join",
                        "--address", state["address"], "--name", name,
                        "--node-ip", "127.0.0.1", "--num-cpus", str(node_cpus),
                        "--memory", str(node_memory), "--max-runtimes", str(max_runtimes),
                        "--port-base", str(52400 + 100 * i),
                        "--ray-temp-dir", str(self.ray_temp(name)),
                        "--data-dir", str(self.folder / "nodes" / name)]
                if i < len(gpu_nodes) and gpu_nodes[i]:
                    argv += ["--accelerator", gpu_nodes[i]]
                # the nodes use this machine's images and sandbox uids
                env = {"DIKTE_SANDBOX_UID_BASE": str(settings.sandbox_uid_base),
                       "DIKTE_DRIVES_DIR": str(settings.drives_root()),
                       "DIKTE_IMAGES_DIR": str(settings.images_dir or settings.data_dir
                                               / "images"),
                       "DIKTE_DISCOVER_GPUS": "false"}
                _run(argv, f"joining {name}", timeout=180, env=env)
                state["nodes"].append({"name": name, "data_dir": str(self.folder / "nodes"
                                                                     / name)})
                self.state_file.write_text(json.dumps(state))
                say(f"{name}: joined" + (f" with {gpu_nodes[i]}" if i < len(gpu_nodes)
                                         and gpu_nodes[i] else ""))
        except BaseException:
            self.stop()
            raise
        return state

    def pids(self) -> list[int]:
        """Every process in the cluster's network namespace, the holder last."""
        state = self.state()
        if state is None:
            return []
        return _pids_in_netns(int(state["holder"]))

    def stop(self, say: Callable[[str], None] = print) -> int:
        """End the node hosts' runtimes, then every process of the cluster; returns how many
        processes were ended."""
        state = self.state()
        if state is None:
            with contextlib.suppress(FileNotFoundError):
                self.state_file.unlink()
            return 0
        net = state["netns"]
        with contextlib.suppress(ClusterError, OSError, subprocess.SubprocessError):
            _run(["nsenter", f"--net={net}", "--", sys.executable, "-m",
                  "dikte.runtimes.ray.start_host", "--shutdown-all", state["address"]],
                 "ending the runtimes", timeout=60)
        holder = int(state["holder"])
        pids = [p for p in _pids_in_netns(holder) if p != holder]
        _end(pids, grace=5.0)
        _end([holder], grace=2.0)
        for node in state["nodes"]:
            _sweep_node(Path(node["data_dir"]))
        shutil.rmtree(self.ray_temp("head").parent, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            self.state_file.unlink()
        say(f"stopped the local cluster ({len(pids) + 1} processes)")
        return len(pids) + 1


def _read_pid(path: Path, within: float = 10.0) -> int:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            return int(path.read_text().strip())
        time.sleep(0.02)
    raise ClusterError("The cluster's network namespace did not start.")


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def _netns_id(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def _pids_in_netns(holder: int) -> list[int]:
    target = _netns_id(holder)
    if target is None:
        return []
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != holder and _netns_id(int(entry)) == target:
            out.append(int(entry))
    return [*sorted(out), holder]


def _wait_for_loopback(holder: int, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        got = subprocess.run(["nsenter", f"--net=/proc/{holder}/ns/net", "--", "ip", "-o",
                              "link", "show", "lo"], capture_output=True, text=True, check=False)
        if "UP" in got.stdout.split("<", 1)[-1].split(">", 1)[0]:
            return
        time.sleep(0.05)
    raise ClusterError("The cluster's network namespace did not come up.")


def _end(pids: Sequence[int], grace: float) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.05)
        if not any(_alive(p) for p in pids):
            return


def _sweep_node(data_dir: Path) -> None:
    """What a node's runtimes left (their processes live in namespaces of their own)."""
    if not (data_dir / "runtimes").is_dir():
        return
    import asyncio

    from dikte.runtimes.local import LocalBackend

    backend = LocalBackend(data_dir, sandbox_uid_base=0)
    with contextlib.suppress(Exception):
        asyncio.run(backend.sweep(keep=set()))
