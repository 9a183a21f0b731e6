"""The runtime terminal cannot be turned against the host (issue: host root through the terminal).

The old terminal picked the namespaces to enter by scanning the runtime's cgroup for a process
whose innermost pid is 1, then ran ``nsenter`` and a ``setpriv`` resolved inside that process's
mount namespace, as root. A runtime that made a pid + mount namespace of its own, with its own
``setpriv`` bound over the real one, and whose process got a low host pid (pids wrap), had its
script run as root with every capability. Here the test plays that process (the runtime can no
longer make namespaces at all, see test_sandbox_syscalls): it joins the runtime's cgroup, gets a
pid below the sandbox's (the wrap, forced through ``ns_last_pid``), and binds a fake ``setpriv``.
The terminal must ignore it: it enters only the sandbox Dikte recorded when it started it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.api.test_terminal import SANDBOX_UID, _connected, terminal
from tests.support.procs import runtime_processes, shell_host_ids
from tests.support.server import Client, DikteServer


def _nspid(pid: int) -> list[str]:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("NSpid:"):
            return line.split()[1:]
    return []


def _cgroup_procs_files(pid: int) -> list[Path]:
    """The cgroup.procs files of every hierarchy ``pid`` is in (v1 and v2)."""
    out = []
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            base = Path("/sys/fs/cgroup/unified")
            if not (base / "cgroup.procs").exists():
                base = Path("/sys/fs/cgroup")
        else:
            base = Path("/sys/fs/cgroup") / controllers.replace("name=", "")
        f = base / path.lstrip("/") / "cgroup.procs"
        if f.exists() and path != "/":
            out.append(f)
    return out


def _kernel_pid(rid: str) -> int:
    for p in runtime_processes(rid):
        if "dikte/kernel/launch.py" in " ".join(p.cmdline()):
            return p.pid
    raise AssertionError("no kernel process found")


def _impostor(rid: str, evil: Path, tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A process in the runtime's cgroup, pid 1 of its own pid namespace, with its own mount
    namespace where /usr/bin/setpriv is ``evil``, and a host pid below the sandbox's pid 1."""
    kernel = _kernel_pid(rid)
    sandbox_init = min(p.pid for p in runtime_processes(rid) if _nspid(p.pid)[-1:] == ["1"])
    joins = " ".join(f"echo $$ > {f};" for f in _cgroup_procs_files(kernel))
    ready = tmp / "impostor-ready"
    script = (f"{joins} echo 300 > /proc/sys/kernel/ns_last_pid; exec unshare --pid --fork "
              f"--mount --propagation private sh -c 'mount --bind {evil} /usr/bin/setpriv && "
              f"touch {ready} && exec sleep 600'")
    proc = subprocess.Popen(["sh", "-c", script], start_new_session=True)
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "impostor did not start"
        time.sleep(0.05)
    inner = [p.pid for p in runtime_processes(rid) if _nspid(p.pid)[-1:] == ["1"]
             and p.pid != sandbox_init]
    assert inner and min(inner) < sandbox_init, (inner, sandbox_init)
    return proc, sandbox_init


@pytest.mark.skipif(os.geteuid() != 0, reason="sandboxed terminals need root")
def test_terminal_ignores_a_runtime_made_pid_one(server: DikteServer, client: Client,
                                                 tmp_path: Path) -> None:
    path = "Notebooks/escape-term.ipynb"
    rid = _connected(client, path, ["open('/content/real.txt', 'w').write('x')"])
    marker = tmp_path / "ran-as-root"
    evil = tmp_path / "setpriv"
    evil.write_text(f"#!/bin/sh\nid -u > {marker}\nexec /bin/sh\n")
    evil.chmod(0o755)
    proc, _ = _impostor(rid, evil, tmp_path)
    try:
        with terminal(client, path) as sh:
            assert sh.run("id -u").strip() == "0"  # the runtime's root, in its user namespace
            assert "real.txt" in sh.run("ls /content").split()
            shell = int(sh.run("echo $$").strip())  # its pid in the sandbox
            assert shell_host_ids(rid) == {(SANDBOX_UID, True)}, "shell not the runtime's user"
            assert shell > 0
        assert not marker.exists(), "the runtime's own setpriv ran as root"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
