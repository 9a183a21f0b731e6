"""The local backend with real kernels in real bubblewrap sandboxes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from dikte.errors import RuntimeUnavailable
from dikte.runtimes.base import Alive, RuntimeSpec
from dikte.runtimes.cgroups import Cgroup
from dikte.runtimes.disk import loop_devices
from dikte.runtimes.local import OOM_SETTLE_SECONDS, LocalBackend
from dikte.runtimes.persist import instance_dir_of, pid_of
from dikte.runtimes.procs import is_running, send, wait_until
from dikte.runtimes.sandbox import KERNEL_LAUNCHER
from tests.runtimes.runtime_helpers import UID_BASE, Runtimes, gone, kernel, wait_exited

Spec = Callable[..., RuntimeSpec]


async def test_kernel_runs_in_content_as_the_sandbox_user_with_the_drive(
    local_backend: LocalBackend, runtimes: Runtimes, spec: Spec, drive: Path
) -> None:
    handle = await runtimes.start(local_backend, spec(drive, owner_id=7))
    assert await local_backend.poll(handle) == Alive()
    async with kernel(handle) as k:
        out = (await k.run(
            "import os, socket, getpass\n"
            "print(os.getcwd(), os.getuid(), sorted(os.listdir('/content')))\n"
            "print(open('/content/drive/MyDrive/hello.txt').read())\n"
            "open('/content/drive/MyDrive/from_cell.txt', 'w').write('written in the runtime')\n"
            "print(os.environ['HOME'], getpass.getuser(), socket.gethostname())"
        )).ok().splitlines()
    assert out[0] == "/content 0 ['drive']"  # root of its own user namespace...
    assert out[1] == "hello from the drive"
    assert out[2] == f"/root root dikte-{handle.runtime_id}"
    assert (drive / "from_cell.txt").read_text() == "written in the runtime"
    assert (drive / "from_cell.txt").stat().st_uid == UID_BASE + 7  # ...which is this host uid

    usage = await local_backend.usage(handle)
    assert 10 << 20 < usage.memory_bytes < usage.memory_limit == 2 << 30
    assert usage.disk_bytes > 0


ESCAPES = r"""
import json, os, socket
def attempt(fn):
    try:
        return "SUCCEEDED: " + repr(fn())[:100]
    except Exception as exc:
        return type(exc).__name__
r = {
    "read secret by host path": attempt(lambda: open(SECRET).read()),
    "read secret via /proc/1/root": attempt(lambda: open("/proc/1/root" + SECRET).read()),
    "list other instance": attempt(lambda: os.listdir(OTHER_INSTANCE)),
    "list other drive": attempt(lambda: os.listdir(OTHER_DRIVE)),
    "connect other kernel": attempt(lambda: socket.socket(socket.AF_UNIX).connect(OTHER_SOCK)),
    "signal test process": attempt(lambda: os.kill(TEST_PID, 0)),
    "read /etc/shadow": attempt(lambda: open("/etc/shadow").read()),
    "write /proc/sys": attempt(lambda: open("/proc/sys/kernel/hostname", "w").write("x")),
}
# the runtime's own system layer: writable, and nothing of it reaches the host
for path in ("/usr/lib/dikte-evil", "/etc/dikte-evil"):
    open(path, "w").write("runtime's own")
open("/etc/passwd", "a").write("evil::0:0::/:/bin/sh\n")
own_root = sorted(os.listdir("/proc/1/root")) == sorted(os.listdir("/"))
os.kill(1, 15)  # the sandbox's init ignores it
found = []
for top, dirs, files in os.walk("/"):
    if top in ("/proc", "/usr", "/sys"):
        dirs[:] = []
    found += [os.path.join(top, n) for n in files + dirs if n == "dikte.db" or OTHER_ID in n]
seen_keys = []
pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
for pid in pids:
    try:
        seen_keys.append(open(f"/proc/{pid}/root/run/dikte/kernel.json").read())
    except OSError:
        pass
status = dict(l.split(":\t", 1) for l in open("/proc/self/status").read().splitlines())
print(json.dumps({"attempts": r, "own_root": own_root, "found": found, "pids": pids, "uid": os.getuid(),
    "euid": os.geteuid(), "cap_eff": status["CapEff"].strip(), "cap_bnd": status["CapBnd"].strip(),
    "nnp": status["NoNewPrivs"].strip(), "cmdline1": open("/proc/1/cmdline").read(),
    "other_key_seen": any(OTHER_KEY in k for k in seen_keys)}))
"""


async def test_escape_attempts_from_a_cell_all_fail(
    local_backend: LocalBackend, runtimes: Runtimes, spec: Spec, drive: Path, data_dir: Path,
    tmp_path: Path,
) -> None:
    other_drive = drive.parent / "2"
    other_drive.mkdir()
    mine = await runtimes.start(local_backend, spec(drive, owner_id=1))
    other = await runtimes.start(local_backend, spec(other_drive, owner_id=2))
    consts = {
        "SECRET": str(data_dir / "dikte.db"), "OTHER_INSTANCE": str(instance_dir_of(other)),
        "OTHER_DRIVE": str(other_drive), "OTHER_SOCK": other.connection["ip"] + "-1",
        "OTHER_ID": other.runtime_id, "OTHER_KEY": other.connection["key"],
        "TEST_PID": os.getpid(),
    }
    code = "".join(f"{k} = {v!r}\n" for k, v in consts.items()) + ESCAPES
    async with kernel(mine) as k:
        report = json.loads((await k.run(code)).ok())

    attempts = report["attempts"]
    assert not [name for name, result in attempts.items() if result.startswith("SUCCEEDED")], \
        attempts
    assert attempts["signal test process"] == "ProcessLookupError"
    assert report["own_root"] is True  # pid 1's root is the sandbox's own
    host = {path: os.path.exists(path) for path in ("/usr/lib/dikte-evil", "/etc/dikte-evil")}  # noqa: ASYNC240
    assert host == {"/usr/lib/dikte-evil": False, "/etc/dikte-evil": False}
    assert "evil::" not in Path("/etc/passwd").read_text()  # noqa: ASYNC240
    assert report["found"] == []
    assert os.getpid() not in report["pids"] and max(report["pids"]) < 1000
    assert report["uid"] == report["euid"] == 0  # in its own user namespace: host uid 600001
    assert report["cap_eff"] != "0000000000000000"  # ...with capabilities that reach only it
    assert report["nnp"] == "1"
    assert str(data_dir) not in report["cmdline1"]  # bwrap options travel through a pipe
    assert not report["other_key_seen"]
    assert await local_backend.poll(other) == Alive()


async def test_a_childs_oom_kill_is_not_blamed_for_a_later_kernel_exit(
    local_backend: LocalBackend, runtimes: Runtimes, spec: Spec, drive: Path
) -> None:
    """A subprocess killed by the memory limit (the kernel lives on), then the kernel exits on
    its own: the exit is an exit, not "used all available RAM"."""
    handle = await runtimes.start(local_backend, spec(drive, memory_bytes=256 << 20))
    async with kernel(handle) as k:
        out = (await k.run("import subprocess, sys\n"
                           "p = subprocess.run([sys.executable, '-c', "
                           "'x = bytearray(1 << 30)'])\nprint('child', p.returncode)",
                           within=60)).ok()
        assert out.strip() == "child -9", out  # the limit killed the child, not the kernel
        k.client.execute("import os; os._exit(3)")
        exited = await wait_exited(local_backend, handle)
    assert (exited.reason, exited.exit_code) == ("exited", 3), exited


async def test_a_kill_from_outside_after_a_childs_oom_kill_is_not_called_oom(
    local_backend: LocalBackend, runtimes: Runtimes, spec: Spec, drive: Path
) -> None:
    """A subprocess is killed by the memory limit; the kernel lives on (the server polls it);
    then someone kills the kernel with SIGKILL: that is a kill, not "used all available RAM"."""
    handle = await runtimes.start(local_backend, spec(drive, memory_bytes=256 << 20))
    async with kernel(handle) as k:
        out = (await k.run("import os, subprocess, sys\n"
                           "p = subprocess.run([sys.executable, '-c', "
                           "'x = bytearray(1 << 30)'])\nprint(p.returncode)",
                           within=60)).ok().split()
        assert out[0] == "-9", out
        # the watcher's polls while the kernel lives on, for as long as it takes a kill by the
        # limit to count as a subprocess's
        lived_on = time.monotonic() + OOM_SETTLE_SECONDS + 0.5
        while time.monotonic() < lived_on:
            assert isinstance(await local_backend.poll(handle), Alive)
            await asyncio.sleep(0.25)
        argvs = {p: Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")  # noqa: ASYNC240
                 for p in Cgroup.from_state(handle.private["cgroup"]).pids()}
        kernels = [p for p, argv in argvs.items()
                   if Path(argv[0].decode()).name.startswith("python")
                   and argv[1] == KERNEL_LAUNCHER.encode()]
        assert len(kernels) == 1, kernels
        os.kill(kernels[0], signal.SIGKILL)
        exited = await wait_exited(local_backend, handle)
    assert exited.reason != "oom", exited


async def test_memory_limit_kills_the_kernel_and_poll_says_oom(
    local_backend: LocalBackend, runtimes: Runtimes, spec: Spec, drive: Path
) -> None:
    handle = await runtimes.start(local_backend, spec(drive, memory_bytes=256 << 20))
    async with kernel(handle) as k:
        k.client.execute("x = b'\\x01' * (1 << 30)")
        exited = await wait_exited(local_backend, handle)
    assert exited.reason == "oom", exited
    assert exited.detail == (
        "Your runtime restarted after using all available RAM (limit 256 MiB)."
    )


async def test_pip_install_lands_in_the_package_layer_and_survives_restart(
    local_backend: LocalBackend, runtimes: Runtimes, spec: Spec, drive: Path,
    tiny_wheel: Callable[[Path], Path], runtime_image: Path,
) -> None:
    wheel = tiny_wheel(drive)
    handle = await runtimes.start(local_backend, spec(drive))
    async with kernel(handle) as k:
        pip = await k.run(f"!pip install --no-index --no-cache-dir /content/drive/MyDrive/"
                          f"{wheel.name}", within=90)
        assert "Successfully installed dikte-tiny-0.1" in pip.ok(), pip
        out = (await k.run(
            "import dikte_tiny; print(dikte_tiny.__file__, dikte_tiny.VALUE)\n"
            "open('/content/kept.txt', 'w').write('kept'); open('/tmp/kept.txt', 'w').write('t')"
        )).ok()
    where, value = out.split()
    assert value == "42", out
    if handle.private["pip_prefix"]:  # the image is read-only: the package layer
        assert where.startswith("/opt/dikte/site/lib/python3."), out
    else:  # as root: the image's own site-packages, in the runtime's copy of it
        (purelib,) = runtime_image.parent.parent.glob("lib/python3.*/site-packages")
        assert where == f"{purelib}/dikte_tiny/__init__.py", out
        assert not Path(where).exists()  # noqa: ASYNC240 (the host's image is unchanged)
    assert where.endswith("/site-packages/dikte_tiny/__init__.py"), out
    assert list(instance_dir_of(handle).rglob("site-packages/dikte_tiny/__init__.py"))

    old_pids = Cgroup.from_state(handle.private["cgroup"]).pids()
    restarted = await local_backend.restart_kernel(handle)
    assert restarted.runtime_id == handle.runtime_id
    assert restarted.connection["key"] != handle.connection["key"]
    assert not any(is_running(pid, None) for pid in old_pids - {pid_of(restarted)})
    async with kernel(restarted) as k:
        out = (await k.run(
            "import dikte_tiny; print(dikte_tiny.VALUE, open('/content/kept.txt').read(),"
            " open('/tmp/kept.txt').read(), 'x' in globals())"
        )).ok()
    assert out.strip() == "42 kept t False"

    await local_backend.stop(restarted)
    assert not instance_dir_of(handle).exists()


async def test_stop_ends_every_process_and_removes_the_runtime(
    local_backend: LocalBackend, spec: Spec, drive: Path
) -> None:
    handle = await local_backend.start(spec(drive))
    async with kernel(handle) as k:
        (await k.run("import subprocess\n"
                     "bg = subprocess.Popen(['sleep', '1000'], start_new_session=True)")).ok()
    cgroup = Cgroup.from_state(handle.private["cgroup"])
    pids = cgroup.pids()
    assert pid_of(handle) in pids and len(pids) >= 4  # bwrap, its init, the kernel, sleep
    sock_dir = Path(handle.private["sock_dir"])

    await local_backend.stop(handle, grace=0.5)
    assert not any(is_running(pid, None) for pid in pids)
    assert not any(p.exists() for p in cgroup.paths.values())
    assert gone(instance_dir_of(handle), sock_dir)
    await local_backend.stop(handle)  # idempotent
    exited = await local_backend.poll(handle)
    assert exited != Alive()


async def test_reattach_after_a_control_plane_restart(
    local_backend: LocalBackend, runtimes: Runtimes, spec: Spec, drive: Path, data_dir: Path
) -> None:
    handle = await runtimes.start(local_backend, spec(drive))
    state = json.loads(json.dumps(local_backend.state(handle)))

    restarted_plane = LocalBackend(data_dir, sandbox_uid_base=UID_BASE)
    again = await restarted_plane.reattach(state)
    assert again is not None and pid_of(again) == pid_of(handle)
    assert await restarted_plane.poll(again) == Alive()
    async with kernel(again) as k:
        assert (await k.run("print(6 * 7)")).ok().strip() == "42"

    async with kernel(again) as k:
        k.client.execute("import os; os._exit(3)")
        exited = await wait_exited(restarted_plane, again)  # not its child: read from /proc
    assert (exited.reason, exited.exit_code) == ("exited", 3)
    assert await restarted_plane.reattach(state) is None
    assert not instance_dir_of(handle).exists()
    assert not any(p.exists() for p in Cgroup.from_state(handle.private["cgroup"]).paths.values())


async def test_a_kernel_that_cannot_start_reports_its_log_and_leaves_nothing(
    local_backend: LocalBackend, spec: Spec, drive: Path, data_dir: Path
) -> None:
    broken = spec(drive, env={"PYTHONHOME": "/nonexistent"})
    with pytest.raises(RuntimeUnavailable) as err:
        await local_backend.start(broken)
    assert "exited with code" in err.value.message
    assert "PYTHONHOME" in err.value.log_message or "encodings" in err.value.log_message
    assert list((data_dir / "runtimes").iterdir()) == []
    assert gone(f"/sys/fs/cgroup/memory/dikte/{broken.runtime_id}")

    with pytest.raises(RuntimeUnavailable, match="Python was not found"):
        await local_backend.start(spec(drive, image="missing"))


async def test_mountpoints_replaced_by_symlinks_cannot_redirect_the_next_start(
    local_backend: LocalBackend, runtimes: Runtimes, spec: Spec, drive: Path, tmp_path: Path,
    runtime_image: Path,
) -> None:
    """bwrap runs as root and creates mountpoints inside directories the runtime's user owns; a
    cell that swaps one for a symlink must not make the next kernel start write to the host."""
    target = tmp_path / "host_dir"
    target.mkdir(mode=0o700)
    handle = await runtimes.start(local_backend, spec(drive))
    home_roots = [r for r in local_backend._layouts[str(runtime_image)].roots
                  if r.startswith("/root/")]
    swap = (
        "import os\n"
        "def swap(path):\n"
        "    top = '/'.join(path.split('/')[:3])\n"
        "    os.rename(top, top + '.old')\n"
        f"    os.symlink({'/oldroot' + str(target)!r}, top)\n"
        "swap('/content/drive/MyDrive')\n"
        + "".join(f"swap({r!r})\n" for r in home_roots)
    )
    async with kernel(handle) as k:
        (await k.run(swap)).ok()
    restarted = await local_backend.restart_kernel(handle)
    async with kernel(restarted) as k:
        out = (await k.run("print(open('/content/drive/MyDrive/hello.txt').read())")).ok()
    assert out.strip() == "hello from the drive"
    assert list(target.iterdir()) == [] and target.stat().st_mode & 0o777 == 0o700


async def test_the_runtime_has_a_disk_and_a_process_limit_of_its_spec(
    local_backend: LocalBackend, spec: Spec, drive: Path, data_dir: Path
) -> None:
    """Its instance space is a file system of ``disk_bytes``, its cgroup allows ``max_processes``;
    when it ends while no control plane watches (and none recorded it), the next one's sweep
    removes its views, disk (mount, loop device, image), instance space and cgroups."""
    handle = await local_backend.start(spec(drive, disk_bytes=64 << 20, max_processes=100))
    cgroup = Cgroup.from_state(handle.private["cgroup"])
    assert cgroup.pids_dir is not None
    assert (cgroup.pids_dir / "pids.max").read_text().strip() == "100"
    space, image = instance_dir_of(handle), instance_dir_of(handle).with_name(
        instance_dir_of(handle).name + ".img")
    assert os.path.ismount(space) and image.stat().st_size == 64 << 20  # noqa: ASYNC240
    async with kernel(handle) as k:
        out = (await k.run("import os\nst = os.statvfs('/content')\n"
                           "print(st.f_blocks * st.f_frsize, os.statvfs('/tmp').f_fsid == "
                           "st.f_fsid)")).ok().split()
    assert 60 << 20 < int(out[0]) <= 64 << 20 and out[1] == "True"
    usage = await local_backend.usage(handle)
    assert 0 < usage.disk_bytes < 64 << 20 and usage.drive_held_bytes == 0

    # the runtime ends; nobody stops it (a pid may be gone by its turn: its pid namespace's
    # first process was killed before it)
    send(cgroup.pids(), signal.SIGKILL)
    local_backend._children.pop(handle.runtime_id).wait(timeout=30)
    assert await wait_until(lambda: not cgroup.pids(), 30)
    later = LocalBackend(data_dir, sandbox_uid_base=UID_BASE)
    await later.sweep(set())
    assert not space.exists() and not image.exists() and loop_devices(image) == []
    assert not any(p.exists() for p in cgroup.paths.values())
    assert not (later.views / handle.runtime_id).exists()


async def test_a_runtime_nobody_recorded_is_ended_and_removed_at_start_up(
    local_backend: LocalBackend, spec: Spec, drive: Path, data_dir: Path
) -> None:
    """A control plane killed between starting a kernel and recording it leaves a live runtime
    that no record claims: the next control plane's sweep ends its processes (the kernel and
    slirp4netns) and removes its cgroup, views and instance space; a kept one is untouched."""
    orphan = await local_backend.start(spec(drive))
    kept = await local_backend.start(spec(drive))
    orphan_cgroup = Cgroup.from_state(orphan.private["cgroup"])
    pids = orphan_cgroup.pids()
    assert pids
    # the killed control plane's children are nobody's now
    child = local_backend._children.pop(orphan.runtime_id)

    later = LocalBackend(data_dir, sandbox_uid_base=UID_BASE)
    await later.sweep({kept.runtime_id})
    child.wait(timeout=30)
    assert not any(is_running(pid, None) for pid in pids)
    assert not instance_dir_of(orphan).exists()
    assert not any(p.exists() for p in orphan_cgroup.paths.values())
    assert not (later.views / orphan.runtime_id).exists()
    assert isinstance(await later.poll(kept), Alive)
    async with kernel(kept) as k:
        assert (await k.run("print(6 * 7)")).ok().strip() == "42"
    await later.stop(kept)
    local_backend._children.pop(kept.runtime_id).wait(timeout=30)


async def test_a_runtime_restarting_when_the_server_died_gets_a_new_kernel_on_reattach(
    local_backend: LocalBackend, spec: Spec, drive: Path, data_dir: Path
) -> None:
    """A control plane killed during a kernel restart recorded the old kernel, now gone: the
    next one re-attaches the runtime with a new kernel in the same instance space, so /content
    is kept (a restart loses the kernel's state, never the runtime); whatever the restart had
    begun is ended first."""
    handle = await local_backend.start(spec(drive))
    async with kernel(handle) as k:
        (await k.run("open('/content/kept.txt', 'w').write('still here')")).ok()
    state = local_backend.state(handle)
    # the old kernel and whatever the restart had begun
    send(Cgroup.from_state(handle.private["cgroup"]).pids(), signal.SIGKILL)
    local_backend._children.pop(handle.runtime_id).wait(timeout=30)

    later = LocalBackend(data_dir, sandbox_uid_base=UID_BASE)
    revived = await later.reattach(state, revive=True)  # it was on record as restarting
    assert revived is not None and revived.private.get("revived") is True
    assert pid_of(revived) != pid_of(handle)
    async with kernel(revived) as k:
        out = (await k.run("print(open('/content/kept.txt').read())")).ok()
    assert out.strip() == "still here"
    await later.stop(revived)
    assert not instance_dir_of(revived).exists()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("pooled", [False, True], ids=["start", "prestart"])
async def test_a_start_cancelled_at_any_moment_leaves_nothing_behind(
    local_backend: LocalBackend, spec: Spec, drive: Path, data_dir: Path, pooled: bool
) -> None:
    """A connect given up (the person disconnected, the server shuts down) cancels the start
    wherever it is. Its file-system work runs in threads, which a cancellation does not stop:
    a disk, layers or binds made after the clean-up had looked were left mounted, for nobody.
    Cancelled after each of several delays, a start leaves no mount, loop device, instance
    space or cgroup behind (or, where it finished first, a runtime that stops cleanly)."""
    starter = local_backend.prestart if pooled else local_backend.start
    for delay in (0.0, 0.005, 0.01, 0.02, 0.04, 0.07, 0.1, 0.15, 0.2, 0.3, 0.5):
        rid_spec = spec(drive, owner_id=0 if pooled else 1)
        task = asyncio.create_task(starter(rid_spec))
        await asyncio.sleep(delay)
        task.cancel()
        try:
            handle = await task
        except asyncio.CancelledError:
            pass
        else:  # it was done before the cancellation came
            await local_backend.stop(handle, grace=0.5)
        rid = rid_spec.runtime_id
        space = data_dir / "runtimes" / rid
        image = space.with_name(rid + ".img")
        # a detached loop device is freed once the last mount of its disk goes, which the
        # sandbox's own mount namespace holds until its last process has been reaped
        await wait_until(lambda image=image: not loop_devices(image), within=60)
        leftovers = {
            "mounts": [m for m in _mount_points() if rid in m],
            "space": space.exists(),
            "loop devices": loop_devices(image),
            "view": (local_backend.views / rid).exists(),
        }
        assert leftovers == {"mounts": [], "space": False, "loop devices": [], "view": False}, \
            (delay, leftovers)


def _mount_points() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f]
