"""A real Ray cluster for the cluster tests: a head and two worker nodes, node1 advertising a
logical T4, all in a network namespace that has only a loopback (``dikte cluster local``), and a
``dikte serve`` on PostgreSQL with the Ray backend, listening on this machine's loopback.

Every test here is marked ``cluster``; ``pytest -m cluster`` runs the group alone, ``-m "not
cluster"`` skips it. The cluster is made once for the package (about 25 s) and stopped by pid
at the end; a test that kills or drains a node joins a fresh one with the same name after.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dikte.config import load_settings
from dikte.runtimes.ray.cluster import LocalCluster, _alive, _pids_in_netns
from tests.conftest import new_database
from tests.support.server import Client, DikteServer

NODE_MEMORY = 3 * 2**30


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(here):
            item.add_marker(pytest.mark.cluster)


def cluster_config(folder: Path) -> Path:
    """A tier with small runtimes (1 GiB: three fit a node's 3 GiB) and a T4 shape, and a
    tier whose runtimes live 40 s."""
    lines = ["reaper_seconds = 0.25", "runtime_cpus = 0.25", "[tiers.free]", 'name = "free"',
             "idle_timeout_s = 3600", "max_lifetime_s = 7200", "disconnect_grace_s = 3600",
             "daily_accelerator_hours = 24", 'drive_quota = "20GiB"', "connect_limit = 1000",
             "[tiers.free.shapes.standard]", "max_sessions = 20", 'memory = "1GiB"',
             'disk = "2GiB"', "[tiers.free.shapes.T4]", "max_sessions = 5", 'memory = "1GiB"',
             'disk = "2GiB"',
             # more RAM than any node has (3 GiB): refused, not queued for ever
             "[tiers.free.shapes.high_ram]", "max_sessions = 1", 'memory = "8GiB"',
             'disk = "2GiB"',
             # runtimes that live 40 s, warned 30 s ahead: the limits on another machine
             "[tiers.brief]", 'name = "brief"', "idle_timeout_s = 3600", "max_lifetime_s = 40",
             "warn_before_stop_s = 30", "disconnect_grace_s = 3600",
             "daily_accelerator_hours = 0", 'drive_quota = "1GiB"', "connect_limit = 1000",
             "[tiers.brief.shapes.standard]", "max_sessions = 2", 'memory = "1GiB"',
             'disk = "2GiB"']
    path = folder / "cluster.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


class Cluster:
    """The local cluster and what tests do to its nodes."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.local = LocalCluster(data_dir / "cluster")
        self.settings = load_settings(None, data_dir=data_dir)
        self._joins = 0
        self._temp = {f"node{i}": self.local.ray_temp(f"node{i}") for i in (1, 2)}
        """Each node's Ray temporary folder (a node joined again has a new one)."""

    def start(self) -> None:
        self.local.start(self.settings, nodes=2, gpu_nodes=["T4"], node_cpus=2,
                         node_memory=NODE_MEMORY, say=lambda line: None)

    @property
    def netns(self) -> Path:
        return self.local.netns()

    def inside(self, *argv: str, timeout: float = 120) -> str:
        """Run a command in the cluster's network; its output."""
        done = subprocess.run(["nsenter", f"--net={self.netns}", "--", *argv], text=True,
                              capture_output=True, timeout=timeout, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def raylet_pid(self, node: str) -> int:
        """The pid of ``node``'s newest raylet (found by its temporary folder)."""
        folder = str(self._temp[node])
        state = self.local.state()
        assert state is not None
        for pid in sorted(_pids_in_netns(int(state["holder"])), reverse=True):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if cmd and cmd[0].endswith(b"/raylet") and any(
                    a.decode(errors="replace") == f"--temp_dir={folder}" for a in cmd):
                return pid
        raise AssertionError(f"no raylet of {node}")

    def join(self, node: str, *accelerators: str) -> dict[str, Any]:
        """Join ``node`` (again, after it was killed or drained): a new raylet and host."""
        state = self.local.state()
        assert state is not None
        self._joins += 1  # ports and a temp folder of its own: the old ones may linger
        self._temp[node] = self.local.ray_temp(f"{node}-{self._joins}")
        argv = [sys.executable, "-m", "dikte.cli.main", "cluster", "join",
                "--address", state["address"], "--name", node, "--node-ip", "127.0.0.1",
                "--num-cpus", "2", "--memory", str(NODE_MEMORY),
                "--port-base", str(53000 + 100 * self._joins),
                "--ray-temp-dir", str(self._temp[node]),
                "--data-dir", str(self.data_dir / "cluster" / "nodes" / node)]
        for a in accelerators:
            argv += ["--accelerator", a]
        env = {"DIKTE_IMAGES_DIR": os.environ["DIKTE_IMAGES_DIR"], "DIKTE_DISCOVER_GPUS": "false",
               "DIKTE_DRIVES_DIR": str(self.settings.drives_root())}
        out = self.inside("env", *[f"{k}={v}" for k, v in env.items()], *argv, timeout=180)
        return {"output": out}

    def python(self, code: str, timeout: float = 60) -> str:
        """Run ``code`` in a Ray driver on the cluster (namespace ``dikte``, as the control
        plane's), inside the cluster's network."""
        state = self.local.state()
        assert state is not None
        head = ("import logging, ray\n"
                f"ray.init(address={state['address']!r}, namespace='dikte', "
                "log_to_driver=False, logging_level=logging.WARNING)\n")
        return self.inside("env", "RAY_USAGE_STATS_ENABLED=0", sys.executable, "-c",
                           head + code, timeout=timeout)

    def instance_space(self, node: str, runtime_id: str) -> Path:
        """Where ``node`` keeps runtime ``runtime_id``'s files."""
        return self.data_dir / "cluster" / "nodes" / node / "runtimes" / runtime_id

    def places(self) -> list[str]:
        """The runtimes the cluster holds a placement group for, sorted."""
        out = self.python("import json\nfrom dikte.runtimes.ray.actors import live_places\n"
                          "print(json.dumps(sorted(live_places())))")
        return list(json.loads(out))

    def ray(self, *args: str, timeout: float = 60) -> str:
        ray = str(Path(sys.executable).parent / "ray")
        return self.inside("env", "RAY_USAGE_STATS_ENABLED=0", ray, *args, timeout=timeout)


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if os.geteuid() != 0:
        pytest.skip("the cluster tests need root (network namespaces and sandboxes)")
    c = Cluster(tmp_path_factory.mktemp("cluster") / "data")
    c.start()
    try:
        yield c
    finally:
        started = c.local.pids()
        c.local.stop(say=lambda line: None)
        # everything it ran ended: Ray's processes, the node hosts, the namespace's holder
        assert started and not [p for p in started if _alive(p)]


@pytest.fixture(scope="package")
def cluster_db(postgres_url: str) -> str:
    return new_database(postgres_url)


@pytest.fixture(scope="package")
def head(cluster: Cluster, cluster_db: str) -> Iterator[DikteServer]:
    """``dikte serve`` with the Ray backend on the local cluster, PostgreSQL as its database."""
    config = cluster_config(cluster.data_dir.parent)
    srv = DikteServer(cluster.data_dir, env={
        "DIKTE_RUNTIME_BACKEND": "ray", "DIKTE_RAY_ADDRESS": "local",
        "DIKTE_DATABASE_URL": cluster_db, "DIKTE_CONFIG": str(config)})
    srv.start(timeout=120)
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture
def client(head: DikteServer) -> Client:
    return head.client()


def sessions_by_path(client: Client) -> dict[str, dict[str, Any]]:
    return {s["notebook_path"]: s for s in client.get("/api/sessions")}


def wait_until(what: str, check: Any, timeout: float = 120.0, step: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(step)


def dump(value: Any) -> str:
    return json.dumps(value, indent=1)
