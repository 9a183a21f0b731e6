"""Small pieces of the runtimes package that need no kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

from dikte.runtimes.base import RuntimeSpec
from dikte.runtimes.cgroups import Cgroup, cgroup_mounts
from dikte.runtimes.exits import exit_for
from dikte.runtimes.instance import MAX_SOCKET_PATH, InstanceSpace, short_socket_base

MOUNTINFO = """\
30 24 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
32 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
33 30 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
34 30 0:30 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
"""


def test_cgroup_mounts_finds_v2_and_the_v1_controllers(tmp_path: Path) -> None:
    (tmp_path / "mountinfo").write_text(MOUNTINFO)
    v2, v1 = cgroup_mounts(str(tmp_path / "mountinfo"))
    assert v2 == Path("/sys/fs/cgroup/unified")
    assert v1 == {"cpu": Path("/sys/fs/cgroup/cpu,cpuacct"),
                  "memory": Path("/sys/fs/cgroup/memory"), "pids": Path("/sys/fs/cgroup/pids")}


def test_v2_cgroup_files(tmp_path: Path) -> None:
    for name, text in {"memory.swap.max": "max", "cpu.weight": "100", "cgroup.procs": "12\n34\n",
                       "memory.current": "4096\n",
                       "memory.events": "low 0\nhigh 0\nmax 5\noom 2\noom_kill 2\n"}.items():
        (tmp_path / name).write_text(text)
    cg = Cgroup(2, {"unified": tmp_path})
    cg.set_limits(256 << 20, 250, 512)
    assert (tmp_path / "memory.max").read_text() == str(256 << 20)
    assert (tmp_path / "pids.max").read_text() == "512"
    assert (tmp_path / "memory.swap.max").read_text() == "0"
    assert (tmp_path / "cpu.weight").read_text() == "250"
    assert (cg.pids(), cg.memory_current(), cg.oom_kills()) == ({12, 34}, 4096, 2)
    assert Cgroup.from_state(cg.to_state()) == cg


def test_v1_cpu_shares_follow_the_weight(tmp_path: Path) -> None:
    mem, cpu, pids = tmp_path / "memory", tmp_path / "cpu", tmp_path / "pids"
    for d in (mem, cpu, pids):
        d.mkdir()
    (mem / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
    Cgroup(1, {"memory": mem, "cpu": cpu, "pids": pids}).set_limits(1 << 30, 200, 100)
    assert (mem / "memory.limit_in_bytes").read_text() == str(1 << 30)
    assert (pids / "pids.max").read_text() == "100"
    assert (cpu / "cpu.shares").read_text() == "2048"
    assert Cgroup(1, {"memory": mem, "cpu": cpu}).oom_kills() == 1


@pytest.mark.parametrize(("code", "oom", "missing", "reason", "detail"), [
    (137, True, False, "oom", "Your runtime restarted after using all available RAM "
                              "(limit 12 GiB)."),
    (3, False, False, "exited", "The runtime's kernel exited (code 3)."),
    (137, False, False, "killed", "The runtime's kernel was stopped by SIGKILL."),
    (-15, False, False, "killed", "The runtime's kernel was stopped by SIGTERM."),
    (None, False, True, "missing", "The runtime is no longer running."),
])
def test_exit_reasons(code: int | None, oom: bool, missing: bool, reason: str,
                      detail: str) -> None:
    exited = exit_for(code, oom=oom, missing=missing, limit=12 << 30)
    assert (exited.reason, exited.exit_code, exited.detail) == (reason, code, detail)


def test_sockets_move_to_a_short_dir_when_the_data_dir_is_deep(tmp_path: Path) -> None:
    shallow = InstanceSpace.plan(Path("/var/lib/dikte"), "abcdefabcdef")
    assert shallow.sock == Path("/var/lib/dikte/runtimes/abcdefabcdef/sock")
    deep = InstanceSpace.plan(tmp_path / ("d" * 80), "abcdefabcdef")
    assert deep.sock == short_socket_base() / "abcdefabcdef"
    assert len(str(deep.sock / "kernel-5")) < MAX_SOCKET_PATH


@pytest.mark.parametrize("changes", [
    {"runtime_id": "ABC"}, {"cpu_weight": 0}, {"cpu_weight": 10001}, {"memory_bytes": 0},
])
def test_spec_validation(changes: dict[str, object], tmp_path: Path) -> None:
    base = {"runtime_id": "abcdefabcdef", "owner_id": 1, "drive": "1",
            "image": "minimal", "memory_bytes": 1 << 30, "cpu_weight": 100}
    with pytest.raises(ValueError):
        RuntimeSpec(**{**base, **changes}).validate()  # type: ignore[arg-type]


def test_sweep_removes_only_empty_cgroups_of_ended_runtimes(tmp_path: Path) -> None:
    """Plain directories stand in for a cgroup hierarchy: rmdir fails on a non-empty one as it
    does on a cgroup with a process in it."""
    import os
    import time

    from dikte.runtimes.cgroups import CgroupDriver

    base = tmp_path / "dikte"
    names = {"mine0ended00": "owned, empty", "mine1alive00": "alive", "mine2busy000": "busy",
             "other0fresh0": "another server's, just made", "other1stale0": "stale, empty"}
    for name in names:
        (base / name).mkdir(parents=True)
    (base / "mine2busy000" / "cgroup.procs").write_text("123\n")  # still has a process
    (base / "notaruntime").mkdir()
    old = time.time() - 3600
    os.utime(base / "other1stale0", (old, old))
    driver = CgroupDriver(2, {"unified": base})
    removed = driver.sweep(keep={"mine1alive00"},
                           owned={"mine0ended00", "mine1alive00", "mine2busy000"})
    assert removed == ["mine0ended00", "other1stale0"]
    assert sorted(p.name for p in base.iterdir()) == [
        "mine1alive00", "mine2busy000", "notaruntime", "other0fresh0"]


def test_dikte_code_is_bound_read_only_and_on_the_path_before_the_image(tmp_path: Path) -> None:
    from dikte.runtimes.sandbox import (
        COLAB_PACKAGE,
        DIKTE_PACKAGE,
        PythonLayout,
        SandboxPaths,
        bwrap_options,
        kernel_command,
        kernel_env,
    )

    layout = PythonLayout("/opt/py/bin/python", "/opt/py/bin", ("/opt/py",))
    env = kernel_env(layout, {})
    assert env["PYTHONPATH"].split(":") == [
        "/opt/dikte/colab", "/opt/dikte/site", "/opt/dikte/lib",
        "/opt/dikte/lib/dikte/kernel/legacy"]
    assert env["DIKTE_DRIVE"] == "/content/drive/MyDrive"
    paths = SandboxPaths(*(tmp_path / n for n in ("c", "d", "t", "h", "s", "k", "p", "g")))
    opts = bwrap_options("abcdefabcdef", paths, layout, env, forbidden=tmp_path / "data",
                         as_root=True)
    pairs = list(zip(opts, opts[1:], opts[2:], strict=False))
    assert ("--ro-bind", str(DIKTE_PACKAGE), "/opt/dikte/lib/dikte") in pairs
    assert ("--ro-bind", str(COLAB_PACKAGE), "/opt/dikte/colab") in pairs
    assert kernel_command(layout, None)[-1] == "--ext=dikte.kernel.extension"
    assert kernel_command(layout, 600001)[-1] == "--ext=dikte.kernel.extension"


def test_state_recorded_by_an_earlier_version_still_reattaches() -> None:
    """A control plane upgraded while runtimes run finds them: their records kept the host pid,
    instance space and drive path beside the rest; the handle now keeps them to the backend."""
    from dikte.runtimes.persist import handle_from_state, instance_dir_of, pid_of, spec_from_handle

    old = {"backend": "local", "version": 1, "runtime_id": "abcdefabcdef", "pid": 4242,
           "connection": {"ip": "/x/kernel"}, "instance_dir": "/data/runtimes/abcdefabcdef",
           "started_at": 1.0, "memory_limit": 1 << 30,
           "private": {"spec": {"owner_id": 3, "drive_root": "/data/drives/3", "python": "py",
                                "cpu_weight": 100, "env": {}}}}
    handle = handle_from_state("local", old)
    assert handle is not None
    assert pid_of(handle) == 4242
    assert str(instance_dir_of(handle)) == "/data/runtimes/abcdefabcdef"
    assert spec_from_handle(handle).drive == "3"


@pytest.mark.parametrize("drive", ["", "..", "a/b", "/abs", "1 2"])
def test_a_spec_names_its_drive_as_a_folder_of_the_volume_only(drive: str) -> None:
    spec = RuntimeSpec(runtime_id="abcdefabcdef", owner_id=1, drive=drive, image="minimal",
                       memory_bytes=1 << 30, cpu_weight=100)
    with pytest.raises(ValueError, match="drive must name a folder"):
        spec.validate()
