"""The local backend: each runtime is a bubblewrap sandbox on this machine, limited by cgroups.

See :mod:`dikte.runtimes.sandbox` for what a kernel sees, :mod:`dikte.runtimes.instance` for the
instance space and :mod:`dikte.runtimes.cgroups` for the limits. The sandbox is started in its own
session with its output going to ``kernel.log`` and is not tied to the control plane's life, so a
restarted control plane finds it again through :meth:`LocalBackend.reattach`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dikte.config import Settings
from dikte.drive import Drive
from dikte.errors import DikteError, RuntimeUnavailable, SandboxUnavailable
from dikte.runtimes import disk, netns, pooled, procs, rootfs, seccomp, shells
from dikte.runtimes.base import RUNTIME_ID, Alive, Exited, RuntimeHandle, RuntimeSpec, Usage
from dikte.runtimes.cgroups import Cgroup, CgroupDriver
from dikte.runtimes.exits import exit_for
from dikte.runtimes.instance import InstanceSpace, new_connection, write_connection_file
from dikte.runtimes.notices import write_notice
from dikte.runtimes.persist import (
    handle_from_state,
    handle_to_state,
    image_python,
    image_pythons,
    instance_dir_of,
    pid_of,
    python_of,
    spec_from_handle,
    spec_to_state,
)
from dikte.runtimes.ports import connect_owned
from dikte.runtimes.sandbox import (
    KERNEL_SOCKET_DIR,
    PythonLayout,
    SandboxPaths,
    bwrap_options,
    find_bwrap,
    in_cgroup,
    kernel_command,
    kernel_env,
    launcher_argv,
    make_dirs_beneath,
    prepare_mountpoints,
    probe_python,
)
from dikte.runtimes.terminal import Terminal

_log = logging.getLogger(__name__)

OOM_SETTLE_SECONDS = 5.0
"""How long the kernel must live on after a kill by the memory limit for that kill to be a
subprocess's (see LocalBackend._settle_oom_kills)."""


def _read_nonblocking(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except BlockingIOError:
        return b""


def _sandbox_init(raw: bytes) -> dict[str, Any]:
    """The sandbox's pid 1 as bwrap reported it on ``--info-fd``, with what identifies it later:
    its start time and its mount namespace (device, inode). The terminal enters only this."""
    try:
        pid = int(json.loads(raw)["child-pid"])
        ns = os.stat(f"/proc/{pid}/ns/mnt")
    except (ValueError, KeyError, OSError) as exc:
        raise RuntimeUnavailable(
            "The runtime's sandbox did not start properly. Try again.",
            log_message=f"bwrap --info-fd gave {raw[:200]!r}: {exc}",
        ) from None
    return {"pid": pid, "start": procs.start_time(pid), "mnt_ns": [ns.st_dev, ns.st_ino]}


class LocalBackend:
    """Runtimes in bubblewrap sandboxes on this machine (see the module docstring)."""

    name = "local"

    def __init__(self, data_dir: Path, *, sandbox_uid_base: int, start_timeout: float = 60.0,
                 network: str = "isolated", drives: Path | None = None,
                 images: Mapping[str, str] | None = None):
        self.data_dir = Path(os.path.abspath(data_dir))
        self.drives = Path(os.path.abspath(drives or self.data_dir / "drives"))
        """The drives volume: a spec's ``drive`` names a folder in it."""
        self.images = dict(images or {})
        """Runtime images on this machine: name -> the python of its environment."""
        self.sandbox_uid_base = sandbox_uid_base
        self.start_timeout = start_timeout
        self.as_root = os.geteuid() == 0
        self._bwrap: str | None = None
        self._cgroups: CgroupDriver | None = None
        self._layouts: dict[str, PythonLayout] = {}
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._idmaps = rootfs.IdMaps()
        self.views = Path("/run/dikte-views") / hashlib.sha256(
            str(self.data_dir).encode()).hexdigest()[:12]
        """Where this server's runtimes' views are (see :mod:`dikte.runtimes.rootfs`)."""
        self._etc: Path | None = None
        self._etc_lock = threading.Lock()
        self.isolated = netns.isolated(network)
        """Each runtime has a network of its own (see :mod:`dikte.runtimes.netns`)."""

    # -- helpers ---------------------------------------------------------------------------

    def _host_ready(self) -> tuple[str, CgroupDriver]:
        if self._bwrap is None or self._cgroups is None:
            self._bwrap = find_bwrap()
            self._cgroups = CgroupDriver.detect()
        return self._bwrap, self._cgroups

    async def _layout(self, python: str) -> PythonLayout:
        if python not in self._layouts:
            self._layouts[python] = await probe_python(python)
        return self._layouts[python]

    def _space(self, handle: RuntimeHandle) -> InstanceSpace:
        return InstanceSpace(instance_dir_of(handle), Path(handle.private["sock_dir"]))

    def _plan_layers(self, runtime_id: str, space: InstanceSpace) -> rootfs.RootLayers:
        """Where a runtime's system layers are mounted, and their upper folders (kept in the
        instance space, outside what the sandbox binds)."""
        return rootfs.RootLayers(self.views / runtime_id, space.root / "rootfs-upper")

    def _root_layers(self, runtime_id: str, space: InstanceSpace, uid: int,
                     layout: PythonLayout) -> rootfs.RootLayers:
        with self._etc_lock:  # starts run this in threads, several at once
            if self._etc is None:
                self._etc = rootfs.shared_etc(self.data_dir, self.views)
        plan = self._plan_layers(runtime_id, space)
        rootfs.view_dir(self.views, runtime_id)
        return rootfs.build(plan.mounts, plan.storage, uid, self._idmaps, self._etc,
                            rootfs.image_layers(layout.roots))

    def _pids(self, handle: RuntimeHandle) -> set[int]:
        pids = Cgroup.from_state(handle.private["cgroup"]).pids()
        if procs.is_running(pid_of(handle), handle.private.get("pid_start")):
            pids.add(pid_of(handle))
        return pids

    async def _network(self, runtime_id: str, cgroup: Cgroup, log: Path) -> tuple[Path, int]:
        """The runtime's network namespace (made on first use, kept in its view) with a fresh
        slirp4netns in the runtime's cgroup; returns the namespace and a pipe that reads "1"
        once the network is up."""
        slirp = netns.find_slirp()
        if slirp is None:
            raise SandboxUnavailable(
                "This server cannot give runtimes a network of their own: slirp4netns is not "
                "installed.", log_message="slirp4netns not found (apt-get install slirp4netns)")
        netns.control_dir(self.data_dir).mkdir(mode=0o755, exist_ok=True)
        path = rootfs.view_dir(self.views, runtime_id) / "net"
        if not netns.is_namespace(path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            await procs.settled(netns.create, path)
        ready_r, ready_w = os.pipe()
        try:
            # in the background of a shell that then exits: slirp4netns is nobody's child here
            # (no zombie, no Popen to keep), and it ends with the runtime's cgroup
            argv = [*in_cgroup(cgroup.procs_files(), "dikte-network", background=True),
                    *netns.slirp_argv(slirp, path, ready_w)]
            starter = procs.spawn(argv, log, cwd="/", pass_fds=(ready_w,),
                                  env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                                       "LANG": "C.UTF-8"})
            # settled: a start cancelled here must find slirp4netns in the runtime's cgroup
            # (the starter puts it there), or it outlives the runtime and holds its disk
            await procs.settled(starter.wait)
        except BaseException:
            os.close(ready_r)
            raise
        finally:
            os.close(ready_w)
        os.set_blocking(ready_r, False)
        return path, ready_r

    def _python(self, spec: RuntimeSpec) -> str:
        return image_python(self.images, spec.image)

    async def _launch(
        self, spec: RuntimeSpec, python: str, space: InstanceSpace, cgroup: Cgroup,
        uid: int | None, layers: rootfs.RootLayers | None = None, drive: Path | None = None,
    ) -> RuntimeHandle:
        """Start a kernel in an existing instance space; wait until its sockets are bound.
        With ``layers`` (Dikte runs as root) the kernel is root of its own user namespace over
        them (see :mod:`dikte.runtimes.rootfs`)."""
        bwrap, _ = self._host_ready()
        layout = await self._layout(python)
        host_conn, kernel_conn = new_connection(str(space.sock / "kernel"),
                                                f"{KERNEL_SOCKET_DIR}/kernel")

        def prepare() -> SandboxPaths:  # file system work: off the event loop
            space.clear_sockets()
            write_connection_file(space.connection_file, kernel_conn, uid)
            passwd, group = space.write_identity(uid if uid is not None else os.geteuid())
            paths = SandboxPaths(space.content, drive or self.drives / spec.drive, space.tmp,
                                 space.home, space.site, space.sock_store, passwd, group)
            if self.as_root:
                prepare_mountpoints(paths, layout)
            for rel in layout.site:  # on sys.path from the start, so new packages import at once
                make_dirs_beneath(space.site, rel, uid)
            return paths

        paths = await procs.settled(prepare)
        net: Path | None = None
        net_ready = -1
        if layers is not None and self.isolated:
            net, net_ready = await self._network(spec.runtime_id, cgroup, space.log)
            resolv = space.etc / "resolv.conf"
            resolv.write_text(netns.RESOLV_CONF)
            os.chmod(resolv, 0o644)
        seccomp_r, info_r, info_w = procs.pipe_with(seccomp.program()), *os.pipe()
        os.set_blocking(info_r, False)
        system = via = None
        if layers is not None:
            system = {layer: layers.merged(layer)
                      for layer in (*rootfs.LAYERS, *rootfs.image_layers(layout.roots))
                      if layers.merged(layer).is_dir()}
            view = layers.mounts

            def via(path: str) -> str:
                return rootfs.bind(view, path)
        # the image's own folders writable in the runtime's layers: pip installs there, as
        # into any Python of one's own (else into the package layer, /opt/dikte/site)
        pip_prefix = system is None or any(root.strip("/") not in system
                                           for root in layout.roots)
        network = "up" if net is None else "coming"

        def up() -> bool:
            nonlocal network
            if network == "coming":
                try:  # "1" once configured; end of file: slirp4netns exited before that
                    network = "up" if os.read(net_ready, 1) == b"1" else "failed"
                except BlockingIOError:
                    pass
            return network == "up"

        def failed() -> bool:
            return child.poll() is not None or (not up() and network == "failed")

        try:
            # its binds (mounts, and a read of the mount table each) off the event loop too
            opts = await procs.settled(functools.partial(
                bwrap_options, spec.runtime_id, paths, layout,
                kernel_env(layout, spec.env, root=layers is not None, pip_prefix=pip_prefix),
                forbidden=self.data_dir, as_root=self.as_root,
                device_binds=spec.device_binds, masked_paths=spec.masked_paths,
                seccomp_fd=seccomp_r, info_fd=info_w, system=system, via=via,
                network=((str(space.etc / "resolv.conf"), str(netns.control_dir(self.data_dir)))
                         if net is not None else None)))
            data = b"".join(o.encode() + b"\0" for o in opts)
            if len(data) > 60000:
                raise RuntimeUnavailable("The runtime's settings are too large.",
                                         log_message=f"bwrap options are {len(data)} bytes")
            oom_baseline = cgroup.oom_kills()
            args_r = procs.pipe_with(data)
            try:
                command = kernel_command(layout, None if layers is not None else uid)
                argv = launcher_argv(cgroup.procs_files(), bwrap, args_r, command,
                                     as_user=uid if layers is not None else None)
                if net is not None:
                    argv = [*netns.launcher_prefix(net), *argv]
                child = procs.spawn(argv, space.log, cwd="/",
                                    pass_fds=(args_r, seccomp_r, info_w),
                                    env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                                         "LANG": "C.UTF-8"})
            finally:
                os.close(args_r)
            os.close(info_w)
            info_w = -1
            self._children[spec.runtime_id] = child
            handle = RuntimeHandle(
                runtime_id=spec.runtime_id, connection=host_conn,
                started_at=time.time(), memory_limit=spec.memory_bytes,
                private={
                    "pid": child.pid, "instance_dir": str(space.root),
                    "pid_start": procs.start_time(child.pid), "sock_dir": str(space.sock),
                    "cgroup": cgroup.to_state(), "uid": uid, "oom_baseline": oom_baseline,
                    "spec": spec_to_state(spec, python), "site": list(layout.site),
                    "rootfs": layers.to_state() if layers is not None else None,
                    "netns": str(net) if net is not None else None,
                    "pip_prefix": pip_prefix,
                    **({"drive_slot": str(drive)} if drive is not None else {}),
                },
            )
            ready = await procs.wait_until(
                lambda: (space.sockets_ready() and up()) or failed(),
                self.start_timeout, step=0.05)
            info = _read_nonblocking(info_r)
        finally:
            for fd in (seccomp_r, info_r, info_w, net_ready):
                if fd >= 0:
                    os.close(fd)
        if not ready or failed():
            self._children.pop(spec.runtime_id, None)
            await procs.end_processes(cgroup.pids, 0.5, child)
            child.wait()
            tail = space.log_tail()
            what = ("did not start in time" if not ready else
                    "had no network (slirp4netns exited; see the runtime's log)"
                    if network == "failed" else
                    f"exited with code {child.returncode}")
            raise RuntimeUnavailable(
                f"The runtime's kernel {what}. Try again; if it keeps failing, tell your "
                "administrator.",
                log_message=f"kernel of runtime {spec.runtime_id} {what}; log tail:\n{tail}",
            )
        try:
            handle.private["init"] = _sandbox_init(info)
        except RuntimeUnavailable:
            self._children.pop(spec.runtime_id, None)
            await procs.end_processes(cgroup.pids, 0.5, child)
            child.wait()
            raise
        return handle

    def network_of(self, runtime_id: str) -> Path | None:
        """The runtime's network namespace (the port proxy connects there), or None when it
        shares the host's network."""
        path = self.views / runtime_id / "net"
        return path if self.isolated and netns.is_namespace(path) else None

    # -- the contract ----------------------------------------------------------------------

    async def start(self, spec: RuntimeSpec) -> RuntimeHandle:
        spec.validate()
        _, driver = self._host_ready()
        drive = self.drives / spec.drive
        if not drive.is_dir():
            raise RuntimeUnavailable("Your drive is not available right now.",
                                     log_message=f"drive {drive} is missing")
        python = self._python(spec)
        await self._layout(python)
        uid = self.sandbox_uid_base + spec.owner_id if self.as_root else None
        space = InstanceSpace.plan(self.data_dir, spec.runtime_id)
        try:
            # as root, a disk of its own: the disk limit holds by construction (see disk.py)
            await self._create_space(spec.runtime_id, space, uid,
                                     spec.disk_bytes if self.as_root else None)
        except FileExistsError:
            raise RuntimeUnavailable(
                "A runtime with this id already exists.",
                log_message=f"instance space {space.root} already exists",
            ) from None
        cgroup: Cgroup | None = None
        layers: rootfs.RootLayers | None = None
        try:
            if uid is not None:
                os.chown(drive, uid, uid)
            cgroup = driver.create(spec.runtime_id, spec.memory_bytes, spec.cpu_weight,
                                   spec.max_processes)
            if uid is not None:
                layers = await procs.settled(self._root_layers, spec.runtime_id, space, uid,
                                             await self._layout(python))
            return await self._launch(spec, python, space, cgroup, uid, layers)
        except BaseException:
            await self._teardown(spec.runtime_id, space, cgroup, None, grace=0.5)
            raise

    async def _create_space(self, runtime_id: str, space: InstanceSpace, uid: int | None,
                            disk_bytes: int | None) -> None:
        """``space.create`` off the event loop; a start cancelled meanwhile removes what it
        made (not a space of the same id that was there before: FileExistsError)."""
        made: list[bool] = []

        def create() -> None:
            space.create(uid, disk_bytes)
            made.append(True)

        try:
            await procs.settled(create)
        except asyncio.CancelledError:
            if made:
                await self._teardown(runtime_id, space, None, None, grace=0.5)
            raise

    # -- pre-started runtimes (see dikte.control.pool and dikte.runtimes.pooled) ----------

    async def prestart(self, spec: RuntimeSpec) -> RuntimeHandle:
        """A runtime for nobody yet, for :meth:`assign` to give to a person
        (:func:`dikte.runtimes.pooled.prestart`)."""
        return await pooled.prestart(self, spec)

    async def assign(self, handle: RuntimeHandle, spec: RuntimeSpec) -> RuntimeHandle:
        """Give the pre-started runtime ``handle`` to ``spec``'s person
        (:func:`dikte.runtimes.pooled.assign`)."""
        return await pooled.assign(self, handle, spec)

    async def poll(self, handle: RuntimeHandle) -> Alive | Exited:
        child = self._children.get(handle.runtime_id)
        code: int | None
        if child is not None and child.pid == pid_of(handle):
            code = child.poll()
            if code is None:
                self._settle_oom_kills(handle)
                return Alive()
        else:
            info = procs.proc_info(pid_of(handle))
            if info is not None and info.start_time == handle.private.get("pid_start"):
                if info.state not in ("Z", "X"):
                    self._settle_oom_kills(handle)
                    return Alive()
                code = info.exit_code
            else:
                return exit_for(None, missing=True, oom=False, limit=handle.memory_limit)
        # the memory limit kills with SIGKILL; a kill counted in the cgroup while the kernel
        # ended otherwise (exited, another signal) hit another of its processes
        killed = code in (-signal.SIGKILL, 128 + signal.SIGKILL)
        cgroup = Cgroup.from_state(handle.private["cgroup"])
        oom = killed and cgroup.oom_kills() > int(handle.private.get("oom_baseline", 0))
        return exit_for(code, missing=False, oom=oom, limit=handle.memory_limit)

    @staticmethod
    def _settle_oom_kills(handle: RuntimeHandle) -> None:
        """Kills by the memory limit that the kernel outlived (a subprocess of it was the one
        killed) stop counting against it: once the cgroup's counter has stayed the same for
        :data:`OOM_SETTLE_SECONDS` with the kernel alive, it is the new baseline. A later
        SIGKILL from outside is then not taken for running out of memory. Polls alone would not
        do: a kernel the limit killed still looks alive while it exits (freeing its memory takes
        a while on a busy machine), and two quick polls then took its own kill for a child's."""
        count = Cgroup.from_state(handle.private["cgroup"]).oom_kills()
        if count <= int(handle.private.get("oom_baseline", 0)):
            return
        now = time.time()  # kept in the runtime's record: a restarted server goes on counting
        seen = handle.private.get("oom_seen")
        if isinstance(seen, list) and seen[0] == count:
            if now - float(seen[1]) >= OOM_SETTLE_SECONDS:
                handle.private["oom_baseline"] = count
        else:
            handle.private["oom_seen"] = [count, now]

    async def restart_kernel(self, handle: RuntimeHandle) -> RuntimeHandle:
        space = self._space(handle)
        cgroup = Cgroup.from_state(handle.private["cgroup"])
        child = self._children.pop(handle.runtime_id, None)
        await procs.end_processes(lambda: self._pids(handle), 3.0, child)
        spec = spec_from_handle(handle)
        uid = handle.private.get("uid")
        layers = self._plan_layers(handle.runtime_id, space) if uid is not None else None
        slot = handle.private.get("drive_slot")
        given = rootfs.view_dir(self.views, handle.runtime_id) / "drive-given"
        if slot and not handle.private.get("pooled"):  # its drive, mounted (id-mapped) there
            slot = str(given)
        new = await self._launch(spec, python_of(handle), space, cgroup, uid, layers,
                                 drive=Path(slot) if slot else None)
        new.started_at = handle.started_at
        new.private["pooled"] = handle.private.get("pooled", False)
        new.private["drive_slot"] = handle.private.get("drive_slot")
        return new

    async def stop(self, handle: RuntimeHandle, grace: float = 3.0) -> None:
        cgroup = Cgroup.from_state(handle.private["cgroup"])
        await self._teardown(handle.runtime_id, self._space(handle), cgroup, handle, grace)

    async def _teardown(
        self,
        runtime_id: str,
        space: InstanceSpace,
        cgroup: Cgroup | None,
        handle: RuntimeHandle | None,
        grace: float,
    ) -> None:
        child = self._children.pop(runtime_id, None)

        def pids() -> set[int]:
            out = cgroup.pids() if cgroup is not None else set()
            if handle is not None and procs.is_running(pid_of(handle),
                                                       handle.private.get("pid_start")):
                out.add(pid_of(handle))
            if child is not None and child.poll() is None:
                out.add(child.pid)
            return out

        ended = await procs.end_processes(pids, grace, child)
        if child is not None:
            try:
                child.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        if cgroup is not None and ended:
            await asyncio.to_thread(cgroup.remove)
        if self.as_root:  # unmounted before anything of the instance space is deleted
            await asyncio.to_thread(functools.partial(  # a disk goes whole: no walk of it
                rootfs.remove, self._plan_layers(runtime_id, space), storage=not space.has_disk))
        await asyncio.to_thread(space.remove)
        if not ended:
            raise DikteError(
                "The runtime could not be stopped completely.",
                log_message=f"runtime {runtime_id} still has processes {sorted(pids())}",
            )

    def state(self, handle: RuntimeHandle) -> dict[str, Any]:
        return handle_to_state(self.name, handle)

    async def reattach(self, state: dict[str, Any], *,
                       revive: bool = False) -> RuntimeHandle | None:
        """The recorded runtime if its kernel still runs; with ``revive`` (the server was
        killed while restarting its kernel: the recorded one is gone, a new one may have
        begun), a new kernel in the same instance space, marked ``private["revived"]``; else
        None, with what is left of it removed."""
        handle = handle_from_state(self.name, state)
        if handle is None:
            return None
        if procs.is_running(pid_of(handle), handle.private.get("pid_start")):
            return handle
        if revive and self._space(handle).root.is_dir():
            try:
                new = await self.restart_kernel(handle)
            except Exception:
                _log.warning("runtime %s: no kernel to re-attach, and a new one did not start",
                             handle.runtime_id, exc_info=True)
            else:
                new.private["revived"] = True
                return new
        await self.stop(handle, grace=0.5)
        return None

    async def sweep(self, keep: set[str]) -> list[str]:
        """Reconcile at start-up: this data dir's runtimes not in ``keep`` (those on record
        and alive now) are the leftovers of a control plane killed while starting, restarting
        or stopping one: the processes in their cgroups end, then their system layers, disk
        (mount, loop device, image) and instance space go; then the empty cgroups (see
        CgroupDriver.sweep). Each is logged. Returns the ids of removed cgroups."""
        try:
            _, driver = self._host_ready()
        except SandboxUnavailable:
            return []
        runtimes = self.data_dir / "runtimes"
        names = [p.name.removesuffix(".img") for p in runtimes.iterdir()] if runtimes.is_dir() \
            else []
        owned = {n for n in names if RUNTIME_ID.fullmatch(n)}
        ended = set()
        for rid in sorted(owned - keep):
            # no record claims it (a server killed while starting or stopping it): what still
            # runs there ends; a cgroup holds every process of a runtime, slirp4netns included
            cgroup = Cgroup(driver.version, {k: b / rid for k, b in driver.bases.items()})
            if cgroup.pids():
                _log.warning("runtime %s has processes but no record: ending them", rid)
                if not await procs.end_processes(cgroup.pids, 0.5):
                    _log.error("runtime %s: processes %s would not end", rid,
                               sorted(cgroup.pids()))
                    continue
            ended.add(rid)
        for rid in sorted(ended):
            _log.info("removing what is left of runtime %s", rid)
            space = InstanceSpace.plan(self.data_dir, rid)
            if self.as_root:  # the views hold the disk: unmounted first
                await asyncio.to_thread(functools.partial(
                    rootfs.remove, self._plan_layers(rid, space), storage=not space.has_disk))
            await asyncio.to_thread(space.remove)
        # system layers whose instance space is gone (made before it, removed after it)
        await asyncio.to_thread(rootfs.sweep, self.views, keep | (owned - ended))
        return await asyncio.to_thread(driver.sweep, keep, owned)

    async def notify(self, handle: RuntimeHandle, notice: dict[str, Any]) -> None:
        await asyncio.to_thread(write_notice, handle, notice)

    async def usage(self, handle: RuntimeHandle) -> Usage:
        cgroup = Cgroup.from_state(handle.private["cgroup"])
        used = await asyncio.to_thread(self._space(handle).disk_bytes)
        held = await asyncio.to_thread(self._drive_held, handle, cgroup)
        return Usage(cgroup.memory_current(), handle.memory_limit, used, held)

    def _drive_held(self, handle: RuntimeHandle, cgroup: Cgroup) -> int:
        """What the runtime's processes hold open of files deleted from the drive (they count
        against the drive quota; see disk.held_unlinked_bytes)."""
        try:
            dev = os.stat(self.drives / spec_from_handle(handle).drive).st_dev
        except OSError:
            return 0
        return disk.held_unlinked_bytes(cgroup.pids(), dev)

    # -- what the control plane reaches inside a runtime ----------------------------------

    async def open_terminal(self, handle: RuntimeHandle, cols: int, rows: int) -> Terminal:
        return await shells.sandboxed_terminal(handle, cols, rows)

    def content(self, handle: RuntimeHandle) -> Drive:
        uid = handle.private.get("uid")
        return Drive(instance_dir_of(handle) / "content", create=False,
                     owner_uid=int(uid) if uid is not None else None)

    def content_root(self, handle: RuntimeHandle) -> str:
        return "/content"

    async def connect_port(self, handle: RuntimeHandle, port: int,
                           timeout: float = 10.0) -> socket.socket:
        uid = handle.private.get("uid")
        return await connect_owned(self.network_of(handle.runtime_id), port,
                                   int(uid) if uid is not None else os.geteuid(), timeout)

    def shares_loopback(self, handle: RuntimeHandle) -> bool:
        return self.network_of(handle.runtime_id) is None


def from_settings(settings: Settings) -> LocalBackend:
    """The ``local`` entry point: sandboxed runtimes on this machine, once ``doctor``'s checks
    pass (refused with its report otherwise)."""
    from dikte.runtimes.doctor import host_report

    report = host_report(network=settings.runtime_network)
    if not report.sandbox_ok:
        raise SandboxUnavailable(
            "This host cannot build the runtime sandbox:\n" + report.render()
            + "\nFix the above, or run with --unsafe-no-sandbox for single-person development.")
    return LocalBackend(settings.data_dir, sandbox_uid_base=settings.sandbox_uid_base,
                        network=settings.runtime_network, drives=settings.drives_root(),
                        images=image_pythons(settings))
