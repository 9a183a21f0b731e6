"""A pre-started runtime (LocalBackend.prestart) given to a person (assign): it has their drive
and limits, runs as a uid no person's runtimes use, and keeps nothing of the time before."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from dikte.runtimes.base import RuntimeSpec
from dikte.runtimes.cgroups import Cgroup
from dikte.runtimes.local import LocalBackend
from dikte.runtimes.persist import instance_dir_of
from dikte.runtimes.pooled import POOL_UIDS
from dikte.runtimes.procs import is_running
from tests.runtimes.runtime_helpers import UID_BASE, Runtimes, kernel

Spec = Callable[..., RuntimeSpec]

PROBE = (
    "import os, socket\n"
    "print(os.getuid(), sorted(os.listdir('/content/drive/MyDrive')), socket.gethostname())\n"
)


def mounts_under(path: Path) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(str(path))]


async def test_a_pre_started_runtime_gets_the_persons_drive_and_limits_at_assignment(
        local_backend: LocalBackend, runtimes: Runtimes, spec: Spec, drive: Path,
        data_dir: Path) -> None:
    other = data_dir / "drives" / "2"
    other.mkdir()
    (other / "theirs.txt").write_text("another person's")
    pooled_spec = spec(drive, owner_id=0, memory_bytes=1 << 30, cpu_weight=10)
    handle = await local_backend.prestart(pooled_spec)
    runtimes.started.append((local_backend, handle))
    uid = handle.private["uid"]
    assert uid >= UID_BASE + POOL_UIDS  # no person's uid

    async with kernel(handle) as k:  # before: an empty drive folder
        assert (await k.run(PROBE)).ok().split() == [
            "0", "[]", f"dikte-{handle.runtime_id}"]
        given = await local_backend.assign(handle, replace(
            pooled_spec, owner_id=1, drive=drive.name, memory_bytes=2 << 30, cpu_weight=100))
        out = (await k.run(
            PROBE + "print(open('/content/drive/MyDrive/hello.txt').read())\n"
            "open('/content/drive/MyDrive/from_cell.txt', 'w').write('written')\n"
            "os.mkdir('/content/drive/MyDrive/made')\n"
            "print(sorted(os.listdir('/content/drive/My Drive')))\n")).ok().splitlines()
    assert out[0].split(maxsplit=1)[1].startswith("['hello.txt']")
    assert out[1] == "hello from the drive"
    assert out[2] == "['from_cell.txt', 'hello.txt', 'made']"  # the legacy name too
    # stored as the person's uid, as a runtime started for them would store it
    assert (drive / "from_cell.txt").stat().st_uid == UID_BASE + 1
    assert (drive / "made").stat().st_gid == UID_BASE + 1
    assert not (other / "from_cell.txt").exists()
    cgroup = Cgroup.from_state(given.private["cgroup"])
    limit = "memory.max" if cgroup.version == 2 else "memory.limit_in_bytes"
    assert cgroup.memory_dir.joinpath(limit).read_text().strip() == str(2 << 30)
    assert (await local_backend.usage(given)).memory_limit == 2 << 30

    # another runtime starting (its sandbox copies the host's mounts) takes nothing away
    await runtimes.start(local_backend, spec(other, owner_id=2))
    async with kernel(given) as k:
        assert "from_cell.txt" in (await k.run(PROBE)).ok()

    # a restarted kernel has the drive still
    again = await local_backend.restart_kernel(given)
    runtimes.started[0] = (local_backend, again)
    async with kernel(again) as k:
        assert "from_cell.txt" in (await k.run(PROBE)).ok()

    await local_backend.stop(again)
    runtimes.started.pop(0)
    assert mounts_under(local_backend.views / handle.runtime_id) == []
    assert not (local_backend.views / handle.runtime_id).exists()
    assert not instance_dir_of(handle).exists()
    assert (drive / "from_cell.txt").read_text() == "written"  # the drive stays


async def test_a_pre_started_runtime_is_not_given_for_another_image_or_disk_nor_twice(
        local_backend: LocalBackend, runtimes: Runtimes, spec: Spec, drive: Path) -> None:
    pooled_spec = spec(drive, owner_id=0)
    handle = await local_backend.prestart(pooled_spec)
    runtimes.started.append((local_backend, handle))
    with pytest.raises(ValueError, match="cannot serve"):
        await local_backend.assign(handle, replace(pooled_spec, disk_bytes=1 << 30))
    with pytest.raises(ValueError, match="cannot serve"):
        await local_backend.assign(handle, replace(pooled_spec, image="missing"))
    given = await local_backend.assign(handle, replace(pooled_spec, owner_id=1))
    with pytest.raises(ValueError, match="cannot serve"):
        await local_backend.assign(given, replace(pooled_spec, owner_id=2))


async def test_an_unassigned_pre_started_runtime_is_ended_at_start_up(
        local_backend: LocalBackend, spec: Spec, drive: Path, data_dir: Path) -> None:
    """Nothing records a pre-started runtime: the next control plane's sweep ends it."""
    handle = await local_backend.prestart(spec(drive, owner_id=0))
    pids = Cgroup.from_state(handle.private["cgroup"]).pids()
    child = local_backend._children.pop(handle.runtime_id)

    later = LocalBackend(data_dir, sandbox_uid_base=UID_BASE)
    await later.sweep(set())
    child.wait(timeout=30)
    assert pids and not any(is_running(pid, None) for pid in pids)
    assert not instance_dir_of(handle).exists()
    assert mounts_under(later.views / handle.runtime_id) == []
