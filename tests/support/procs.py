"""Finding a runtime's processes from outside: by command line or by cgroup membership."""

from __future__ import annotations

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
