"""Limits that hold against the tricks that got past them (issue 10, item 4).

- **Processes:** a runtime could make 2,000 processes and 5,000 threads (no pids limit), enough to
  wrap host pids. Now its cgroup's pids limit (the tier's ``max_processes``) stops a fork or thread
  bomb: the next fork fails with EAGAIN, the cgroup never holds more tasks than the limit, and the
  runtime works again once the bomb's processes are gone.
- **Disk:** ``/content``'s limit was a walk that counted named files only, so a file unlinked while
  held open grew past it unnoticed (and 200,000 tiny files kept the walk busy). Now the runtime's
  storage is a file system of the limit's size: a held unlinked file stops at the limit with
  "No space left on device", is measured (statvfs), and /tmp, /root, the package layer and the
  system layer share the same limit.
- **Drive quota:** the drive's size was a walk over named files; a file deleted from the drive but
  held open by the runtime grew past the quota unnoticed. Now what the runtime's processes hold
  open there counts, and the runtime is warned and stopped as for named files.
- **Crash of the control plane:** nothing of a runtime's storage (mount, loop device, image) is
  left behind by a runtime that ended while no server watched it.

Each bomb or fill is bounded (a fixed number of tries) so that a failing test cannot take the host
down.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from dikte.runtimes.cgroups import cgroup_mounts
from tests.api.test_tiers import start, tier_config
from tests.support.procs import runtime_processes
from tests.support.server import Client, DikteServer, cell_text

SERVER = Callable[..., DikteServer]


def _runtime_id(client: Client) -> str:
    (session,) = client.get("/api/sessions")
    return str(session["runtime_id"])


def _pids_dir(rid: str) -> Path:
    """Where the runtime's pids limit lives: the v1 pids hierarchy, else the cgroup v2 tree."""
    v2, v1 = cgroup_mounts()
    if "pids" in v1:
        return v1["pids"] / "dikte" / rid
    assert v2 is not None
    return v2 / "dikte" / rid


def _run(client: Client, path: str, cell: str, timeout: float = 120) -> str:
    client.run_cells(path, [cell], timeout=timeout)
    return cell_text(client.view(path), cell)


FORKS = """\
import os, time
kids, failure = [], None
for _ in range(256):  # bounded: four times the limit
    try:
        pid = os.fork()
    except OSError as exc:
        failure = exc
        break
    if pid == 0:
        try:
            os.execv('/bin/sleep', ['sleep', '300'])
        finally:
            os._exit(0)
    kids.append(pid)
print(len(kids), failure.errno if failure else None, failure, flush=True)
deadline = time.monotonic() + 120  # the test looks at the cgroup, then says go
while not os.path.exists('/content/go') and time.monotonic() < deadline:
    time.sleep(0.05)
for pid in kids:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
print('reaped', len(kids))
"""

FORKED = re.compile(r"(\d+) (\d+|None) ")
"""What the fork cell prints first: how many it made, and the errno that stopped it."""

THREADS = """\
import threading
stop, threads, failure = threading.Event(), [], None
for _ in range(256):  # bounded
    t = threading.Thread(target=stop.wait)
    try:
        t.start()
    except RuntimeError as exc:
        failure = exc
        break
    threads.append(t)
made = len(threads)
stop.set()
for t in threads:
    t.join()
print(made, failure)
"""


def test_a_fork_bomb_and_a_thread_bomb_stop_at_the_pids_limit(
        fresh_server: SERVER, tmp_path: Path) -> None:
    server = fresh_server(DIKTE_CONFIG=tier_config(tmp_path, max_processes=64)).start()
    client = server.client()
    path = "Notebooks/bomb.ipynb"
    forks, threads, alive = client.new_notebook(
        path, [FORKS, THREADS, "import subprocess\n"
               "print(subprocess.run(['echo', 'usable'], capture_output=True, text=True).stdout)"])
    client.post("/api/notebooks/connect", {"path": path})
    rid = _runtime_id(client)
    limits = _pids_dir(rid)
    assert (limits / "pids.max").read_text().strip() == "64"

    sock = client.socket(path)
    try:
        sock.send({"type": "execute", "cell_id": forks})
        printed = sock.wait_for(lambda m: m["type"] == "output" and m["cell_id"] == forks
                                and FORKED.search(json.dumps(m["change"])) is not None)
        made, errno = FORKED.search(json.dumps(printed["change"])).groups()  # type: ignore[union-attr]
        # the bomb's sleepers are alive now: the cgroup holds no more tasks than the limit
        assert int((limits / "pids.current").read_text()) <= 64
        (server.data_dir / "runtimes" / rid / "content" / "go").write_text("")
        sock.wait_done(forks)
    finally:
        sock.close()
    assert errno == "11", made  # EAGAIN: "Resource temporarily unavailable"
    assert 0 < int(made) < 64
    assert f"reaped {made}" in cell_text(client.view(path), forks)
    assert "usable" in _run(client, path, alive)  # the runtime works again

    made, *why = _run(client, path, threads).split(maxsplit=1)
    assert 0 < int(made) < 64 and "can't start new thread" in why[0], why
    assert "usable" in _run(client, path, alive)
    assert int((limits / "pids.current").read_text()) < 64


HELD_FILE = """\
import os
f = open('/content/held.bin', 'wb', buffering=0)
os.unlink('/content/held.bin')
chunk, written, failure = b'x' * (1 << 20), 0, None
for _ in range(256):  # bounded: four times the limit
    try:
        written += f.write(chunk)
    except OSError as exc:
        failure = exc
        break
print(written, failure.errno if failure else None, failure)
"""

EVERYWHERE = """\
import os
failures = []
for where in ('/tmp/a.bin', '/root/a.bin', '/opt/dikte/site/a.bin', '/usr/local/a.bin',
              '/content/a.bin'):
    try:
        with open(where, 'wb') as f:
            for _ in range(20):
                f.write(b'y' * (1 << 20))
    except OSError as exc:
        failures.append((where, exc.errno))
print(failures)
"""


def test_a_held_unlinked_file_stops_at_the_disk_limit_and_is_measured(
        fresh_server: SERVER, tmp_path: Path) -> None:
    client = start(fresh_server, tmp_path, top="disk_check_seconds = 0.25", disk='"64MiB"')
    path = "Notebooks/fill.ipynb"
    fill, close, spread = client.new_notebook(path, [HELD_FILE, "f.close()", EVERYWHERE])
    client.post("/api/notebooks/connect", {"path": path})
    sock = client.socket(path)
    try:
        written, errno, *message = _run(client, path, fill).split(maxsplit=2)
        # viewers hear of it; nothing is stopped
        notice = sock.wait_for(lambda m: m["type"] == "notice"
                               and m.get("code") == "disk_almost_full", timeout=30)
    finally:
        sock.close()
    assert errno == "28" and "No space left on device" in message[0], message
    assert 32 << 20 < int(written) <= 64 << 20
    assert "of 64 MiB" in notice["message"] and "No space left on device" in notice["message"]
    deadline = time.monotonic() + 30  # measured at the next disk check, the runtime kept
    while True:
        (session,) = client.get("/api/sessions")
        if session["disk_bytes"] is not None and session["disk_bytes"] >= int(written):
            break
        assert time.monotonic() < deadline, session
        time.sleep(0.1)
    assert session["disk_bytes"] <= session["disk_limit"] == 64 << 20
    assert session["status"] == "connected"

    _run(client, path, close)  # closing it gives the space back
    deadline = time.monotonic() + 30
    while (disk := client.get("/api/sessions")[0]["disk_bytes"]) >= int(written) // 2:
        assert time.monotonic() < deadline, disk
        time.sleep(0.1)
    # /tmp, /root, the package layer, the system layer and /content share the one limit
    out = _run(client, path, spread)
    assert "28)" in out and out.count("28)") <= 3, out
    assert client.get("/api/sessions")[0]["status"] == "connected"


HELD_IN_DRIVE = """\
import os, time
f = open('/content/drive/MyDrive/held.bin', 'wb', buffering=0)
os.unlink('/content/drive/MyDrive/held.bin')
for _ in range(32):  # 32 MiB, four times the quota
    f.write(b'x' * (1 << 20))
print('written')
while True:
    time.sleep(0.1)
"""


def test_a_file_deleted_from_the_drive_but_held_open_counts_against_the_quota(
        fresh_server: SERVER, tmp_path: Path) -> None:
    client = start(fresh_server, tmp_path, drive_quota='"8MiB"', warn_before_stop_s=1,
                   top="disk_check_seconds = 0.25")
    path = "Notebooks/held.ipynb"
    (fill,) = client.new_notebook(path, [HELD_IN_DRIVE])
    client.post("/api/notebooks/connect", {"path": path})
    sock = client.socket(path)
    try:
        sock.send({"type": "execute", "cell_id": fill})
        warning = sock.wait_for(lambda m: m["type"] == "notice"
                                and m.get("code") == "drive_quota", timeout=30)
        assert "over its quota of 8 MiB" in warning["message"]
        gone = sock.wait_for(lambda m: m["type"] == "runtime" and m["status"] == "disconnected",
                             timeout=30)
    finally:
        sock.close()
    assert gone["message"].startswith("Runtime disconnected: your drive holds 3"), gone
    # the runtime's end closed the file: the drive is small again, so a new runtime may start
    client.post("/api/notebooks/connect", {"path": path})


def _loop_backing(image: Path) -> list[str]:
    """The loop devices whose backing file is ``image``."""
    found = []
    for dev in Path("/sys/block").glob("loop*"):
        try:
            backing = (dev / "loop" / "backing_file").read_text().strip()
        except OSError:
            continue
        if backing.removesuffix(" (deleted)") == str(image):
            found.append(dev.name)
    return found


def test_a_killed_control_plane_leaves_no_mount_or_loop_device_behind(
        fresh_server: SERVER, tmp_path: Path) -> None:
    server = fresh_server().start()
    client = server.client()
    path = "Notebooks/crash.ipynb"
    (cell,) = client.new_notebook(path, ["open('/content/kept.txt', 'w').write('kept')"])
    client.post("/api/notebooks/connect", {"path": path})
    client.run_cells(path, [cell])
    rid = _runtime_id(client)
    space = server.data_dir / "runtimes" / rid
    image = server.data_dir / "runtimes" / f"{rid}.img"
    assert os.path.ismount(space) and image.is_file() and _loop_backing(image)

    server.stop(signal.SIGKILL)
    server.start()  # re-found: the runtime lives on with its storage
    assert os.path.ismount(space) and (space / "content" / "kept.txt").read_text() == "kept"

    server.stop(signal.SIGKILL)
    for proc in runtime_processes(rid):  # the runtime ends while no server watches it
        with contextlib.suppress(psutil.NoSuchProcess):  # one may end as another goes
            proc.kill()
    server.start()
    assert not os.path.ismount(space) and not space.exists()
    assert not image.exists() and _loop_backing(image) == []
