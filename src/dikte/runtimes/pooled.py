"""Runtimes started ahead (see :mod:`dikte.control.pool`) on this machine: started for nobody
by :func:`prestart`, given to a person by :func:`assign`.

A pre-started runtime cannot run as its person's uid, which nobody knows yet: it runs as a host
uid of its own (:func:`pool_uid`), and at assignment the person's drive is mounted into the
running sandbox id-mapped from their uid to the runtime's (:mod:`dikte.runtimes.inject`), so
what it writes there is stored as the person's. The person's limits are set on its cgroup then.
It is given once and never returns to the pool.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Protocol

import psutil

from dikte.errors import RuntimeUnavailable, SandboxUnavailable
from dikte.runtimes import inject, procs, rootfs
from dikte.runtimes.base import RuntimeHandle, RuntimeSpec
from dikte.runtimes.cgroups import Cgroup, CgroupDriver
from dikte.runtimes.instance import InstanceSpace
from dikte.runtimes.persist import python_of, spec_from_handle, spec_to_state
from dikte.runtimes.sandbox import DRIVE_DIR, LEGACY_DRIVE_DIR, PythonLayout

_log = logging.getLogger(__name__)


class Starter(Protocol):
    """What these steps use of :class:`dikte.runtimes.local.LocalBackend`, whose ``prestart``
    and ``assign`` call them (named here, not imported: that module imports this one)."""

    data_dir: Path
    drives: Path
    views: Path
    sandbox_uid_base: int
    as_root: bool

    def _host_ready(self) -> tuple[str, CgroupDriver]: ...
    def _python(self, spec: RuntimeSpec) -> str: ...
    async def _layout(self, python: str) -> PythonLayout: ...
    async def _create_space(self, runtime_id: str, space: InstanceSpace, uid: int | None,
                            disk_bytes: int | None) -> None: ...
    def _root_layers(self, runtime_id: str, space: InstanceSpace, uid: int,
                     layout: PythonLayout) -> rootfs.RootLayers: ...
    async def _launch(self, spec: RuntimeSpec, python: str, space: InstanceSpace,
                      cgroup: Cgroup, uid: int | None, layers: rootfs.RootLayers | None = None,
                      drive: Path | None = None) -> RuntimeHandle: ...
    async def _teardown(self, runtime_id: str, space: InstanceSpace, cgroup: Cgroup | None,
                        handle: RuntimeHandle | None, grace: float) -> None: ...


async def prestart(backend: Starter, spec: RuntimeSpec) -> RuntimeHandle:
    """A runtime for nobody yet, for :func:`assign` to give to a person: everything of
    :meth:`LocalBackend.start` but the person's. It runs as a host uid of its own (see
    :func:`pool_uid`), not its future owner's, and its ``/content/drive/MyDrive`` is an
    empty folder over which ``assign`` mounts the drive. ``spec.owner_id`` and
    ``spec.drive`` are ignored."""
    spec.validate()
    _, driver = backend._host_ready()
    if not backend.as_root:
        raise SandboxUnavailable("Pre-started runtimes need Dikte to run as root.")
    python = backend._python(spec)
    layout = await backend._layout(python)
    uid = await asyncio.to_thread(pool_uid, backend.sandbox_uid_base, spec.runtime_id)
    space = InstanceSpace.plan(backend.data_dir, spec.runtime_id)
    await backend._create_space(spec.runtime_id, space, uid, spec.disk_bytes)
    cgroup: Cgroup | None = None
    try:
        slot = rootfs.view_dir(backend.views, spec.runtime_id) / "drive-slot"
        slot.mkdir(mode=0o755, exist_ok=True)  # empty: the drive is mounted over it
        cgroup = driver.create(spec.runtime_id, spec.memory_bytes, spec.cpu_weight,
                               spec.max_processes)
        layers = await procs.settled(backend._root_layers, spec.runtime_id, space, uid, layout)
        handle = await backend._launch(spec, python, space, cgroup, uid, layers, drive=slot)
    except BaseException:
        await backend._teardown(spec.runtime_id, space, cgroup, None, grace=0.5)
        raise
    handle.private["pooled"] = True
    return handle


async def assign(backend: Starter, handle: RuntimeHandle,
                 spec: RuntimeSpec) -> RuntimeHandle:
    """Give the pre-started runtime ``handle`` to ``spec``'s person: their drive is mounted
    at /content/drive/MyDrive inside the sandbox (id-mapped: stored as their uid, as a
    started runtime's writes are; see :mod:`dikte.runtimes.inject`), and the spec's
    memory, CPU and process limits apply. The spec must name the same runtime, image and
    disk size; nobody's code has run in it before."""
    spec.validate()
    pooled = spec_from_handle(handle)
    if (spec.runtime_id, spec.image, spec.disk_bytes) != (
            handle.runtime_id, pooled.image, pooled.disk_bytes) or spec.device_binds \
            or not handle.private.get("pooled"):
        raise ValueError(f"runtime {handle.runtime_id} cannot serve this spec")
    drive = backend.drives / spec.drive
    if not drive.is_dir():
        raise RuntimeUnavailable("Your drive is not available right now.",
                                 log_message=f"drive {drive} is missing")

    def give() -> None:
        _mount_drive(backend, handle, spec)
        seen = f"/proc/{handle.private['init']['pid']}/root{DRIVE_DIR}"
        try:
            arrived = os.stat(seen).st_ino == os.stat(drive).st_ino
        except OSError:
            arrived = False
        if not arrived:  # the sandbox did not receive it: it is given to nobody
            rootfs.unmount(rootfs.view_dir(backend.views, handle.runtime_id) / "drive-given")
            raise RuntimeUnavailable(
                "The runtime started ahead could not be given your drive.",
                log_message=f"runtime {handle.runtime_id}: the drive mounted on its slot "
                            f"did not appear at {seen}")
        Cgroup.from_state(handle.private["cgroup"]).set_limits(
            spec.memory_bytes, spec.cpu_weight, spec.max_processes)

    await procs.settled(give)
    _log.info("runtime %s given to person %s", handle.runtime_id, spec.owner_id)
    handle.memory_limit = spec.memory_bytes
    handle.private["spec"] = spec_to_state(spec, python_of(handle))
    handle.private["pooled"] = False  # given: never given again
    return handle


def _mount_drive(backend: Starter, handle: RuntimeHandle, spec: RuntimeSpec) -> None:
    """The person's drive, id-mapped from their uid to the runtime's: at ``drive-given``
    in its view, which a restarted kernel's sandbox binds, and inside the running sandbox
    at both its names (:func:`dikte.runtimes.inject.place`, in the sandbox's mount
    namespace)."""
    person, seen = backend.sandbox_uid_base + spec.owner_id, int(handle.private["uid"])
    drive = backend.drives / spec.drive
    os.chown(drive, person, person)
    given = rootfs.view_dir(backend.views, handle.runtime_id) / "drive-given"
    given.mkdir(mode=0o755, exist_ok=True)
    mapping = rootfs.id_mapping(person, seen)
    try:
        rootfs.mount_mapped(drive, given, mapping)
        trees = [rootfs.mapped_tree(drive, mapping) for _ in (DRIVE_DIR, LEGACY_DRIVE_DIR)]
    finally:
        os.close(mapping)
    try:
        init = handle.private["init"]
        inject.place(int(init["pid"]), int(init["start"]), init["mnt_ns"],
                     [(trees[0], DRIVE_DIR), (trees[1], LEGACY_DRIVE_DIR)],
                     handle.runtime_id)
    except BaseException:
        rootfs.unmount(given)
        raise
    finally:
        for fd in trees:
            os.close(fd)


POOL_UIDS = 1 << 30
"""Pre-started runtimes' uids are ``sandbox_uid_base + POOL_UIDS + n``: above every person's."""


def pool_uid(base: int, runtime_id: str) -> int:
    """A host uid for a pre-started runtime that no person's runtimes use (person ids stay
    below :data:`POOL_UIDS`) and no process on this machine runs as now, so a runtime that
    ended, or one of someone else, never shares it."""
    n = int(runtime_id, 36)
    in_use = {u for p in psutil.process_iter(["uids"]) if p.info["uids"] for u in p.info["uids"]}
    for i in range(1024):
        uid = base + POOL_UIDS + (n + i) % (1 << 29)
        if uid not in in_use:
            return uid
    raise RuntimeUnavailable("No user id is free for a new runtime.",
                             log_message="1024 candidate pool uids are all in use")
