"""What a cell can no longer do to the kernel it shares with everyone: seccomp and no privileges.

One cell tries each attack through ``ctypes`` (the way a determined notebook would) and reports
the errno it got; each attack is then its own test. Every one of these is a step of a published
container escape or kernel exploit; a notebook never needs any of them. Beside them, the things a
notebook does need (fork, threads, ``unshare(CLONE_FILES)``, subprocesses) must keep working.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from tests.api.test_terminal import _connected, terminal
from tests.support.server import Client, DikteServer, cell_text

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox's seccomp needs root")

PROBE = r'''
import ctypes, errno, json, os, subprocess, threading
libc = ctypes.CDLL(None, use_errno=True)
out = {}
def call(name, *args):
    ctypes.set_errno(0)
    r = libc.syscall(*args)
    out[name] = "ok" if r >= 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
NEWUSER, NEWNS, NEWNET, NEWPID = 0x10000000, 0x20000, 0x40000000, 0x20000000
call("unshare_user", 272, NEWUSER)
call("unshare_mount", 272, NEWNS)
call("unshare_net", 272, NEWNET)
call("clone_newpid", 56, NEWPID | 17, 0, 0, 0, 0)
call("clone3", 435, 0, 0)
call("mount_tmpfs", 165, b"none", b"/tmp", b"tmpfs", 0, 0)
call("keyctl_session_keyring", 250, 0, -3, 0)
call("bpf_map_create", 321, 0, 0, 0)
call("perf_event_open", 298, 0, 0, -1, -1, 0)
call("userfaultfd", 323, 0)
call("io_uring_setup", 425, 1, 0)
call("open_by_handle_at", 304, -100, 0, 0)
call("init_module", 175, 0, 0, b"")
call("x32_getpid", 39 | 0x40000000)
fd = os.open("/proc/1/ns/mnt", os.O_RDONLY) if os.access("/proc/1/ns/mnt", os.R_OK) else -1
call("setns_pid1_mnt", 308, fd, 0)
try:
    os.setuid(1000); out["setuid_other"] = "ok"
except OSError as e:
    out["setuid_other"] = errno.errorcode[e.errno]
out["pid1_root_is_own"] = sorted(os.listdir("/proc/1/root")) == sorted(os.listdir("/"))
try:
    open("/etc/shadow").read(); out["read_shadow"] = "ok"
except OSError as e:
    out["read_shadow"] = errno.errorcode[e.errno]
try:
    open("/proc/sys/kernel/hostname", "w").write("x"); out["write_proc_sys"] = "ok"
except OSError as e:
    out["write_proc_sys"] = errno.errorcode[e.errno]
out["no_new_privs"] = [l.split()[1] for l in open("/proc/self/status") if l.startswith("NoNewPrivs")][0]
out["seccomp_mode"] = [l.split()[1] for l in open("/proc/self/status") if l.startswith("Seccomp:")][0]
p = subprocess.run(["unshare", "-Ur", "id", "-u"], capture_output=True, text=True)
out["unshare_cmd"] = "ok" if p.returncode == 0 else p.stderr.strip()
# what notebooks need
pid = os.fork()
if pid == 0:
    os._exit(7)
out["fork"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
t = threading.Thread(target=lambda: None); t.start(); t.join(); out["thread"] = "ok"
call("unshare_files", 272, 0x400)
out["subprocess"] = subprocess.run(["echo", "hi"], capture_output=True, text=True).stdout
print("RESULT" + json.dumps(out))
'''

REFUSED = ["unshare_user", "unshare_mount", "unshare_net", "clone_newpid", "mount_tmpfs",
           "keyctl_session_keyring", "bpf_map_create", "perf_event_open", "userfaultfd",
           "io_uring_setup", "open_by_handle_at", "init_module", "x32_getpid"]


@pytest.fixture(scope="module")
def probe(server: DikteServer) -> dict[str, Any]:
    client = server.client()
    path = "Notebooks/syscalls.ipynb"
    [cid] = client.new_notebook(path, [PROBE])
    client.post("/api/notebooks/connect", {"path": path})
    [state] = client.run_cells(path, [cid])
    text = cell_text(client.view(path), cid)
    assert state["last_status"] == "ok", text
    return dict(json.loads(text.split("RESULT", 1)[1]))


@pytest.mark.parametrize("attack", REFUSED)
def test_attack_is_refused(probe: dict[str, Any], attack: str) -> None:
    assert probe[attack] == "EPERM", probe


def test_clone3_falls_back(probe: dict[str, Any]) -> None:
    assert probe["clone3"] == "ENOSYS"  # flags unreadable to a filter: libc falls back to clone


def test_setns_into_the_sandbox_init_is_refused(probe: dict[str, Any]) -> None:
    assert probe["setns_pid1_mnt"] in ("EPERM", "EBADF"), probe  # EBADF: not even openable


def test_no_way_through_pid1_or_proc_sys(probe: dict[str, Any]) -> None:
    assert probe["pid1_root_is_own"] is True, probe  # the sandbox's init sees only the sandbox
    assert probe["write_proc_sys"] in ("EROFS", "EACCES", "EPERM"), probe


def test_root_of_the_runtime_is_nobody_else(probe: dict[str, Any]) -> None:
    # only root is mapped: no other host uid can be taken on; the host's secrets are not copied
    assert probe["setuid_other"] == "EINVAL", probe
    assert probe["read_shadow"] == "ENOENT", probe


def test_user_namespaces_are_off(probe: dict[str, Any]) -> None:
    assert probe["unshare_cmd"] != "ok" and "not permitted" in probe["unshare_cmd"], probe


def test_filter_and_no_new_privs_are_on(probe: dict[str, Any]) -> None:
    assert probe["no_new_privs"] == "1" and probe["seccomp_mode"] == "2", probe


def test_what_notebooks_need_still_works(probe: dict[str, Any]) -> None:
    assert probe["fork"] == 7 and probe["thread"] == "ok", probe
    assert probe["unshare_files"] == "ok" and probe["subprocess"] == "hi\n", probe


def test_the_terminal_runs_under_the_same_filter(client: Client) -> None:
    path = "Notebooks/syscalls-term.ipynb"
    _connected(client, path, [])
    with terminal(client, path) as sh:
        assert sh.run("grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status | awk '{print $2}'"
                      ).split() == ["1", "2"]
        assert "not permitted" in sh.run("unshare -Ur true 2>&1; echo rc=$?")
        assert sh.run("bash -c 'echo $((6*7))'").strip() == "42"
