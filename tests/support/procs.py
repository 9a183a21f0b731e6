"""Finding a runtime's processes from outside: by command line or by cgroup membership."""

from __future__ import annotations

import os
from pathlib import Path

import psutil


def runtime_processes(runtime_id: str) -> list[psutil.Process]:
    """Every live process that belongs to the runtime (its cgroup or command line names it)."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            cgroups = Path(f"/proc/{proc.pid}/cgroup").read_text()
            cmdline = proc.info["cmdline"] or ()
        except (OSError, psutil.NoSuchProcess):
            continue
        if proc.status() == psutil.STATUS_ZOMBIE:
            continue
        if f"/{runtime_id}" in cgroups or any(runtime_id in part for part in cmdline):
            found.append(proc)
    return found


def shell_host_ids(rid: str) -> set[tuple[int, bool]]:
    """(host uid, in another user namespace than the host's) of the runtime's shells."""
    host_userns = os.stat("/proc/self/ns/user").st_ino
    return {(p.uids().real, os.stat(f"/proc/{p.pid}/ns/user").st_ino != host_userns)
            for p in runtime_processes(rid) if p.name() == "bash"}
