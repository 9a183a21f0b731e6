"""Resource limits for runtimes through cgroups, v2 or v1, whichever the host can write.

Each runtime gets ``<controller mount>/dikte/<runtime_id>``: one directory on cgroup v2, one per
controller (memory, cpu, pids) on v1. Memory is required (it is the RAM limit and how Dikte learns
that a runtime was OOM-killed), and so is pids (the limit on processes and threads that stops a
fork bomb, and with it the pid wrap a runtime could force on the host); cpu is used when it is
there.

=============  ==========================  ======================================
               v2                          v1
=============  ==========================  ======================================
RAM limit      memory.max, swap.max = 0    memory.limit_in_bytes (+ memsw)
RAM use        memory.current              memory.usage_in_bytes
OOM kills      memory.events ``oom_kill``  memory.oom_control ``oom_kill``
CPU share      cpu.weight                  cpu.shares (weight * 1024 / 100)
Tasks limit    pids.max                    pids.max (the pids hierarchy)
Tasks now      pids.current                pids.current
=============  ==========================  ======================================
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dikte.errors import SandboxUnavailable

BASE = "dikte"


def cgroup_mounts(mountinfo: str = "/proc/self/mountinfo") -> tuple[Path | None, dict[str, Path]]:
    """(the cgroup2 mount, {v1 controller: mount})."""
    v2: Path | None = None
    v1: dict[str, Path] = {}
    with open(mountinfo) as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fstype, _source, options = [*right.split(), "", "", ""][:3]
            mount = Path(left.split()[4])
            if fstype == "cgroup2" and v2 is None:
                v2 = mount
            elif fstype == "cgroup":
                for opt in options.split(","):
                    if opt in ("memory", "cpu", "pids") and opt not in v1:
                        v1[opt] = mount
    return v2, v1


def _read_counter(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except OSError:
        pass
    return 0


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


@dataclass
class Cgroup:
    """One runtime's cgroup(s)."""

    version: int
    paths: dict[str, Path]
    """v2: {"unified": dir}; v1: {"memory": dir, "cpu": dir, "pids": dir}."""

    @property
    def memory_dir(self) -> Path:
        return self.paths["unified" if self.version == 2 else "memory"]

    @property
    def pids_dir(self) -> Path | None:
        """Where ``pids.max`` is; None for a cgroup made before Dikte limited processes."""
        return self.paths["unified"] if self.version == 2 else self.paths.get("pids")

    def procs_files(self) -> list[Path]:
        return [p / "cgroup.procs" for p in dict.fromkeys(self.paths.values())]

    def pids(self) -> set[int]:
        out: set[int] = set()
        for f in self.procs_files():
            try:
                out.update(int(x) for x in f.read_text().split())
            except OSError:
                pass
        return out

    def set_limits(self, memory_bytes: int, cpu_weight: int, max_tasks: int) -> None:
        """RAM (no swap past it), CPU share, and the most processes and threads at once."""
        pids = self.pids_dir
        if pids is None:
            raise OSError("the runtime's cgroup has no pids controller")
        _write(pids / "pids.max", str(max_tasks))
        mem = self.memory_dir
        if self.version == 2:
            _write(mem / "memory.max", str(memory_bytes))
            if (mem / "memory.swap.max").exists():
                _write(mem / "memory.swap.max", "0")
            if (mem / "cpu.weight").exists():
                _write(mem / "cpu.weight", str(cpu_weight))
            return
        memsw = mem / "memory.memsw.limit_in_bytes"
        try:
            _write(mem / "memory.limit_in_bytes", str(memory_bytes))
        except OSError:  # raising a limit: memory+swap may not be below memory, so it goes first
            if not memsw.exists():
                raise
            _write(memsw, str(memory_bytes))
            _write(mem / "memory.limit_in_bytes", str(memory_bytes))
        if memsw.exists():
            try:  # no swapping past the limit, where swap accounting is on
                _write(memsw, str(memory_bytes))
            except OSError:
                pass
        if "cpu" in self.paths:
            _write(self.paths["cpu"] / "cpu.shares", str(max(2, cpu_weight * 1024 // 100)))

    def oom_kills(self) -> int:
        if self.version == 2:
            return _read_counter(self.memory_dir / "memory.events", "oom_kill")
        return _read_counter(self.memory_dir / "memory.oom_control", "oom_kill")

    def tasks(self) -> int:
        """Processes and threads in the cgroup now (``pids.current``)."""
        pids = self.pids_dir
        try:
            return int((pids / "pids.current").read_text()) if pids is not None else 0
        except (OSError, ValueError):
            return 0

    def memory_current(self) -> int:
        name = "memory.current" if self.version == 2 else "memory.usage_in_bytes"
        try:
            return int((self.memory_dir / name).read_text())
        except (OSError, ValueError):
            return 0

    def remove(self, timeout: float = 2.0) -> bool:
        """rmdir each directory (retrying while the kernel finishes tearing down the last
        tasks); True when all are gone."""
        deadline = time.monotonic() + timeout
        pending = list(dict.fromkeys(self.paths.values()))
        while pending:
            try:
                pending[0].rmdir()
                pending.pop(0)
            except FileNotFoundError:
                pending.pop(0)
            except OSError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.02)
        return True

    def to_state(self) -> dict[str, Any]:
        return {"version": self.version, "paths": {k: str(v) for k, v in self.paths.items()}}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Cgroup:
        return cls(int(state["version"]), {k: Path(v) for k, v in state["paths"].items()})


@dataclass(frozen=True)
class CgroupDriver:
    """Which cgroup hierarchy runtimes use on this host."""

    version: int
    bases: dict[str, Path]
    """v2: {"unified": <mount>/dikte}; v1: {"memory": ..., "cpu": ...}."""

    @classmethod
    def detect(cls) -> CgroupDriver:
        """v2 when its memory and pids controllers are available and writable, else v1 when
        the memory and pids controllers are writable; otherwise :class:`SandboxUnavailable`."""
        v2, v1 = cgroup_mounts()
        problems: list[str] = []
        if v2 is not None:
            try:
                controllers = (v2 / "cgroup.controllers").read_text().split()
            except OSError:
                controllers = []
            missing = [c for c in ("memory", "pids") if c not in controllers]
            if missing:
                problems.append(f"cgroup v2 at {v2} has no {' or '.join(missing)} controller")
            elif not os.access(v2, os.W_OK):
                problems.append(f"cgroup v2 at {v2} is not writable by uid {os.geteuid()}")
            else:
                try:
                    return cls._setup_v2(v2, controllers)
                except OSError as exc:
                    problems.append(f"cannot set up {v2 / BASE}: {exc}")
        if "memory" in v1 and "pids" not in v1:
            problems.append("cgroup v1 has no pids hierarchy (mount -t cgroup -o pids cgroup "
                            "/sys/fs/cgroup/pids)")
        elif "memory" in v1:
            if all(os.access(v1[c], os.W_OK) for c in ("memory", "pids")):
                bases = {c: m / BASE for c, m in v1.items() if os.access(m, os.W_OK)}
                try:
                    for b in bases.values():
                        b.mkdir(exist_ok=True)
                    return cls(1, bases)
                except OSError as exc:
                    problems.append(f"cannot create {bases['memory']}: {exc}")
            else:
                problems.append(f"cgroup v1 memory at {v1['memory']} or pids at {v1['pids']} "
                                "is not writable")
        elif v2 is None:
            problems.append("no cgroup filesystem is mounted")
        raise SandboxUnavailable(
            "This server cannot limit runtime memory and processes, so it cannot start "
            "sandboxed runtimes. "
            "Run `dikte doctor` for details.",
            log_message="no writable cgroup memory and pids controllers: " + "; ".join(problems),
        )

    @classmethod
    def _setup_v2(cls, mount: Path, controllers: list[str]) -> CgroupDriver:
        wanted = [c for c in ("memory", "cpu", "pids") if c in controllers]
        base = mount / BASE
        base.mkdir(exist_ok=True)
        for d in (mount, base):
            enabled = (d / "cgroup.subtree_control").read_text().split()
            missing = " ".join(f"+{c}" for c in wanted if c not in enabled)
            if missing:
                _write(d / "cgroup.subtree_control", missing)
        return cls(2, {"unified": base})

    def sweep(self, keep: set[str], owned: set[str], min_age_s: float = 600.0) -> list[str]:
        """Remove empty runtime cgroups left behind (a runtime that ended while no server
        watched it): those of ``owned`` runtimes (this server's) not in ``keep``, and any other
        runtime's that has been empty for ``min_age_s`` (so another server's runtime that is
        just starting is never touched). A cgroup with a process in it cannot be removed."""
        removed = []
        now = time.time()
        for base in dict.fromkeys(self.bases.values()):
            try:
                children = list(base.iterdir())
            except OSError:
                continue
            for d in children:
                rid = d.name
                if not d.is_dir() or rid in keep or not re.fullmatch(r"[a-z0-9]{12}", rid):
                    continue
                try:
                    old = now - d.stat().st_mtime >= min_age_s
                except OSError:
                    continue
                if rid in owned or old:
                    with contextlib.suppress(OSError):  # busy: a process still runs there
                        d.rmdir()
                        removed.append(rid)
        return sorted(set(removed))

    def create(self, runtime_id: str, memory_bytes: int, cpu_weight: int,
               max_tasks: int = 1024) -> Cgroup:
        """The runtime's cgroup(s) with its limits; ``max_tasks``: processes and threads."""
        paths = {name: base / runtime_id for name, base in self.bases.items()}
        cg = Cgroup(self.version, paths)
        try:
            for p in dict.fromkeys(paths.values()):
                p.mkdir(exist_ok=True)
            cg.set_limits(memory_bytes, cpu_weight, max_tasks)
        except OSError as exc:
            cg.remove(timeout=0)
            raise SandboxUnavailable(
                "This server could not set the runtime's memory and process limits.",
                log_message=f"cgroup setup for {runtime_id} failed: {exc}",
            ) from exc
        return cg
