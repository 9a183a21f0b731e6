"""A runtime's network is its own: the host's loopback services, other runtimes' servers and the
host's abstract unix sockets are out of reach, ``/proc/net`` shows only its own sockets, it cannot
reconfigure its network, and outbound traffic still flows (user-mode networking).

Each probe is a cell that tries, the way a notebook would, and prints what it got. Run with
``DIKTE_RUNTIME_NETWORK=host`` in the environment to see the same tests fail on a shared network.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_terminal import _connected, terminal
from tests.support.net import public_address
from tests.support.server import Client, DikteServer, cell_text, make_person

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="networks of their own need root")

MARK = b"host-secret-7f3a"

PROBE = r'''
import ctypes, errno, json, os, socket, subprocess
out = {}
def dial(key, family, address):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(address)
        out[key] = "connected:" + s.recv(64).decode(errors="replace")
    except OSError as e:
        out[key] = errno.errorcode.get(e.errno, str(e)) if e.errno else type(e).__name__
    finally:
        s.close()
dials = [("outbound", socket.AF_INET, (HOST_IP, PORTS["host_public"])),
         ("abstract", socket.AF_UNIX, "\0" + ABSTRACT)]
for name, port in PORTS.items():
    dials.append((name + "_loopback", socket.AF_INET, ("127.0.0.1", port)))
    dials.append((name + "_gateway", socket.AF_INET, ("10.0.2.2", port)))
from concurrent.futures import ThreadPoolExecutor
with ThreadPoolExecutor(len(dials)) as pool:  # at once: a dropped dial waits out its 5 s
    list(pool.map(lambda d: dial(*d), dials))
local = {int(line.split()[1].rsplit(":", 1)[1], 16)  # the sockets' own ports
         for t in ("tcp", "tcp6") for line in open(f"/proc/net/{t}").read().splitlines()[1:]}
out["proc_net_ports"] = sorted(p for p in PORTS.values() if p in local)
out["proc_net_abstract"] = ABSTRACT in open("/proc/net/unix").read()
def run(*argv):
    p = subprocess.run(argv, capture_output=True, text=True)
    return "ok" if p.returncode == 0 else (p.stderr.strip() or str(p.returncode))
out["link_down"] = run("ip", "link", "set", "tap0", "down")
out["add_route"] = run("ip", "route", "add", "192.0.2.0/24", "dev", "tap0")
out["add_address"] = run("ip", "addr", "add", "10.0.2.50/24", "dev", "tap0")
try:
    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP).close()
    out["raw_socket"] = "ok"
except OSError as e:
    out["raw_socket"] = errno.errorcode[e.errno]
try:
    socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close()
    out["packet_socket"] = "ok"
except OSError as e:
    out["packet_socket"] = errno.errorcode[e.errno]
out["resolv"] = open("/etc/resolv.conf").read()
print("RESULT" + json.dumps(out))
'''

SERVE = r'''
import socket, threading
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", 0))
srv.listen()
def answer():
    while True:
        c, _ = srv.accept()
        c.sendall(b"runtime-b-secret")
        c.close()
threading.Thread(target=answer, daemon=True).start()
print("PORT", srv.getsockname()[1])
'''


@contextlib.contextmanager
def _listener(address: tuple[str, int] | str, family: int = socket.AF_INET) -> Iterator[Any]:
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.bind(address)
    srv.listen()
    srv.settimeout(0.2)  # accept() wakes to see ``stop``: closing the socket would not wake it
    stop = threading.Event()

    def answer() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.sendall(MARK)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        stop.set()
        srv.close()
        thread.join(10)


def _run(client: Client, path: str, source: str) -> str:
    [cid] = client.new_notebook(path, [source])
    client.post("/api/notebooks/connect", {"path": path})
    [state] = client.run_cells(path, [cid])
    text = cell_text(client.view(path), cid)
    assert state["last_status"] == "ok", text
    return text


@pytest.fixture(scope="module")
def probe(server: DikteServer) -> Iterator[dict[str, Any]]:
    _, other = make_person(server, server.client(), "net-neighbour")
    served = _run(other, "Notebooks/serve.ipynb", SERVE)
    neighbour_port = int(served.split("PORT", 1)[1].split()[0])
    host_ip = public_address()
    abstract = f"dikte-test-{os.getpid()}"
    with _listener(("127.0.0.1", 0)) as loop_srv, _listener((host_ip, 0)) as public_srv, \
            _listener("\0" + abstract, socket.AF_UNIX):
        ports = {"host_service": loop_srv.getsockname()[1],
                 "host_public": public_srv.getsockname()[1],
                 "neighbour": neighbour_port,
                 "dikte": int(server.url.rsplit(":", 1)[1])}
        source = (f"PORTS = {ports!r}\nHOST_IP = {host_ip!r}\nABSTRACT = {abstract!r}\n"
                  + PROBE)
        text = _run(server.client(), "Notebooks/net-probe.ipynb", source)
    result = dict(json.loads(text.split("RESULT", 1)[1]))
    result["ports"] = ports
    yield result
    other.post("/api/notebooks/disconnect", {"path": "Notebooks/serve.ipynb"})
    server.client().post("/api/notebooks/disconnect", {"path": "Notebooks/net-probe.ipynb"})


@pytest.mark.parametrize("target", ["host_service", "neighbour", "dikte"])
def test_the_hosts_and_other_runtimes_loopback_is_out_of_reach(probe: dict[str, Any],
                                                                target: str) -> None:
    # its own loopback: nothing listens there; the gateway does not lead to the host's
    assert probe[f"{target}_loopback"] == "ECONNREFUSED", probe
    assert probe[f"{target}_gateway"] in ("ENETUNREACH", "ECONNREFUSED", "EHOSTUNREACH",
                                          "timeout", "TimeoutError"), probe


def test_outbound_traffic_flows(probe: dict[str, Any]) -> None:
    assert probe["outbound"] == "connected:" + MARK.decode(), probe


def test_the_hosts_abstract_unix_sockets_are_out_of_reach(probe: dict[str, Any]) -> None:
    assert probe["abstract"] == "ECONNREFUSED", probe


def test_proc_net_shows_only_its_own_sockets(probe: dict[str, Any]) -> None:
    assert probe["proc_net_ports"] == [], probe
    assert probe["proc_net_abstract"] is False, probe


@pytest.mark.parametrize("change", ["link_down", "add_route", "add_address"])
def test_the_runtime_cannot_reconfigure_its_network(probe: dict[str, Any], change: str) -> None:
    assert "not permitted" in probe[change], probe


def test_no_raw_or_packet_sockets(probe: dict[str, Any]) -> None:
    assert probe["raw_socket"] == "EPERM" and probe["packet_socket"] == "EPERM", probe


def test_names_resolve_through_the_runtimes_own_forwarder(probe: dict[str, Any]) -> None:
    assert "nameserver 10.0.2.3" in probe["resolv"], probe


def test_user_mode_networking_lives_and_ends_with_the_runtime(server: DikteServer) -> None:
    """slirp4netns runs in the runtime's cgroup (its limits hold it; nothing outlives it) and the
    namespace's file goes with the runtime."""
    client = server.client()
    path = "Notebooks/net-life.ipynb"
    _run(client, path, "print('up')")
    rid = client.view(path)["runtime"]["runtime_id"]
    cgroup = next(p for p in (Path("/sys/fs/cgroup/pids/dikte") / rid,
                              Path("/sys/fs/cgroup/dikte") / rid) if p.is_dir())
    names = {Path(f"/proc/{pid}/comm").read_text().strip()
             for pid in (cgroup / "cgroup.procs").read_text().split()}
    assert "slirp4netns" in names, names
    views = list(Path("/run/dikte-views").glob(f"*/{rid}/net"))
    assert len(views) == 1 and views[0].is_file()
    client.post("/api/notebooks/disconnect", {"path": path})
    assert not cgroup.exists() and not views[0].exists()
    assert not [pid for pid in os.listdir("/proc") if str(views[0]).encode() in _cmdline(pid)]


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes() if pid.isdigit() else b""
    except OSError:  # ended meanwhile
        return b""


def test_the_terminal_is_in_the_runtimes_network(server: DikteServer) -> None:
    """A shell from the terminal joins the runtime's network too: the host's loopback service
    is as far out of its reach as of the kernel's."""
    client = server.client()
    path = "Notebooks/net-term.ipynb"
    _connected(client, path, [])
    with _listener(("127.0.0.1", 0)) as srv, terminal(client, path) as sh:
        port = srv.getsockname()[1]
        out = sh.run(f"python3 -c \"import socket; s = socket.socket(); "
                     f"print('rc', s.connect_ex(('127.0.0.1', {port})))\"; ip -br link")
    client.post("/api/notebooks/disconnect", {"path": path})
    assert "rc 111" in out, out  # ECONNREFUSED: nothing listens on its own loopback
    assert "tap0" in out, out
