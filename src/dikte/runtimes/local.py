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
import subprocess
import time
from pathlib import Path
from typing import Any

from dikte.errors import DikteError, RuntimeUnavailable, SandboxUnavailable
from dikte.runtimes import disk, netns, procs, rootfs, seccomp
from dikte.runtimes.base import RUNTIME_ID, Alive, Exited, RuntimeHandle, RuntimeSpec, Usage
from dikte.runtimes.cgroups import Cgroup, CgroupDriver
from dikte.runtimes.exits import exit_for
from dikte.runtimes.instance import InstanceSpace, new_connection, write_connection_file
from dikte.runtimes.persist import (
    handle_from_state,
    handle_to_state,
    spec_from_handle,
    spec_to_state,
)
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

_log = logging.getLogger(__name__)


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
                 network: str = "isolated"):
        self.data_dir = Path(os.path.abspath(data_dir))
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
        return InstanceSpace(handle.instance_dir, Path(handle.private["sock_dir"]))

    def _plan_layers(self, runtime_id: str, space: InstanceSpace) -> rootfs.RootLayers:
        """Where a runtime's system layers are mounted, and their upper folders (kept in the
        instance space, outside what the sandbox binds)."""
        return rootfs.RootLayers(self.views / runtime_id, space.root / "rootfs-upper")

    def _root_layers(self, runtime_id: str, space: InstanceSpace, uid: int,
                     layout: PythonLayout) -> rootfs.RootLayers:
        if self._etc is None:
            self._etc = rootfs.shared_etc(self.data_dir, self.views)
        plan = self._plan_layers(runtime_id, space)
        rootfs.view_dir(self.views, runtime_id)
        return rootfs.build(plan.mounts, plan.storage, uid, self._idmaps, self._etc,
                            rootfs.image_layers(layout.roots))

    def _pids(self, handle: RuntimeHandle) -> set[int]:
        pids = Cgroup.from_state(handle.private["cgroup"]).pids()
        if procs.is_running(handle.pid, handle.private.get("pid_start")):
            pids.add(handle.pid)
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
            await asyncio.to_thread(netns.create, path)
        ready_r, ready_w = os.pipe()
        try:
            # in the background of a shell that then exits: slirp4netns is nobody's child here
            # (no zombie, no Popen to keep), and it ends with the runtime's cgroup
            argv = [*in_cgroup(cgroup.procs_files(), "dikte-network", background=True),
                    *netns.slirp_argv(slirp, path, ready_w)]
            starter = procs.spawn(argv, log, cwd="/", pass_fds=(ready_w,),
                                  env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                                       "LANG": "C.UTF-8"})
            await asyncio.to_thread(starter.wait)
        except BaseException:
            os.close(ready_r)
            raise
        finally:
            os.close(ready_w)
        os.set_blocking(ready_r, False)
        return path, ready_r

    async def _launch(
        self, spec: RuntimeSpec, space: InstanceSpace, cgroup: Cgroup, uid: int | None,
        layers: rootfs.RootLayers | None = None,
    ) -> RuntimeHandle:
        """Start a kernel in an existing instance space; wait until its sockets are bound.
        With ``layers`` (Dikte runs as root) the kernel is root of its own user namespace over
        them (see :mod:`dikte.runtimes.rootfs`)."""
        bwrap, _ = self._host_ready()
        layout = await self._layout(spec.python)
        space.clear_sockets()
        host_conn, kernel_conn = new_connection(str(space.sock / "kernel"),
                                                f"{KERNEL_SOCKET_DIR}/kernel")
        write_connection_file(space.connection_file, kernel_conn, uid)
        passwd, group = space.write_identity(uid if uid is not None else os.geteuid())
        paths = SandboxPaths(space.content, spec.drive_root, space.tmp, space.home, space.site,
                             space.sock_store, passwd, group)
        if self.as_root:
            prepare_mountpoints(paths, layout)
        for rel in layout.site:  # on sys.path from the start, so new packages import at once
            make_dirs_beneath(space.site, rel, uid)
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
            opts = bwrap_options(spec.runtime_id, paths, layout,
                                 kernel_env(layout, spec.env, root=layers is not None,
                                            pip_prefix=pip_prefix),
                                 forbidden=self.data_dir, as_root=self.as_root,
                                 device_binds=spec.device_binds, masked_paths=spec.masked_paths,
                                 seccomp_fd=seccomp_r, info_fd=info_w, system=system,
                                 via=via, network=(
                                     (str(space.etc / "resolv.conf"),
                                      str(netns.control_dir(self.data_dir)))
                                     if net is not None else None))
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
                runtime_id=spec.runtime_id, pid=child.pid, connection=host_conn,
                instance_dir=space.root, started_at=time.time(), memory_limit=spec.memory_bytes,
                private={
                    "pid_start": procs.start_time(child.pid), "sock_dir": str(space.sock),
                    "cgroup": cgroup.to_state(), "uid": uid, "oom_baseline": oom_baseline,
                    "spec": spec_to_state(spec), "site": list(layout.site),
                    "rootfs": layers.to_state() if layers is not None else None,
                    "netns": str(net) if net is not None else None,
                    "pip_prefix": pip_prefix,
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
        if not spec.drive_root.is_dir():
            raise RuntimeUnavailable("Your drive is not available right now.",
                                     log_message=f"drive root {spec.drive_root} is missing")
        await self._layout(spec.python)
        uid = self.sandbox_uid_base + spec.owner_id if self.as_root else None
        space = InstanceSpace.plan(self.data_dir, spec.runtime_id)
        try:
            # as root, a disk of its own: the disk limit holds by construction (see disk.py)
            await asyncio.to_thread(space.create, uid, spec.disk_bytes if self.as_root else None)
        except FileExistsError:
            raise RuntimeUnavailable(
                "A runtime with this id already exists.",
                log_message=f"instance space {space.root} already exists",
            ) from None
        cgroup: Cgroup | None = None
        layers: rootfs.RootLayers | None = None
        try:
            if uid is not None:
                os.chown(spec.drive_root, uid, uid)
            cgroup = driver.create(spec.runtime_id, spec.memory_bytes, spec.cpu_weight,
                                   spec.max_processes)
            if uid is not None:
                layers = await asyncio.to_thread(self._root_layers, spec.runtime_id, space, uid,
                                                 await self._layout(spec.python))
            return await self._launch(spec, space, cgroup, uid, layers)
        except BaseException:
            await self._teardown(spec.runtime_id, space, cgroup, None, grace=0.5)
            raise

    async def poll(self, handle: RuntimeHandle) -> Alive | Exited:
        child = self._children.get(handle.runtime_id)
        code: int | None
        if child is not None and child.pid == handle.pid:
            code = child.poll()
            if code is None:
                self._settle_oom_kills(handle)
                return Alive()
        else:
            info = procs.proc_info(handle.pid)
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
        killed) stop counting against it: once the cgroup's counter has stayed the same over
        two polls with the kernel alive, it is the new baseline. A later SIGKILL from outside
        is then not taken for running out of memory."""
        count = Cgroup.from_state(handle.private["cgroup"]).oom_kills()
        if count <= int(handle.private.get("oom_baseline", 0)):
            return
        if handle.private.get("oom_seen") == count:
            handle.private["oom_baseline"] = count
        else:
            handle.private["oom_seen"] = count

    async def restart_kernel(self, handle: RuntimeHandle) -> RuntimeHandle:
        space = self._space(handle)
        cgroup = Cgroup.from_state(handle.private["cgroup"])
        child = self._children.pop(handle.runtime_id, None)
        await procs.end_processes(lambda: self._pids(handle), 3.0, child)
        spec = spec_from_handle(handle)
        uid = handle.private.get("uid")
        layers = self._plan_layers(handle.runtime_id, space) if uid is not None else None
        new = await self._launch(spec, space, cgroup, uid, layers)
        new.started_at = handle.started_at
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
            if handle is not None and procs.is_running(handle.pid, handle.private.get("pid_start")):
                out.add(handle.pid)
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
        if procs.is_running(handle.pid, handle.private.get("pid_start")):
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

    async def usage(self, handle: RuntimeHandle) -> Usage:
        cgroup = Cgroup.from_state(handle.private["cgroup"])
        used = await asyncio.to_thread(self._space(handle).disk_bytes)
        held = await asyncio.to_thread(self._drive_held, handle, cgroup)
        return Usage(cgroup.memory_current(), handle.memory_limit, used, held)

    def _drive_held(self, handle: RuntimeHandle, cgroup: Cgroup) -> int:
        """What the runtime's processes hold open of files deleted from the drive (they count
        against the drive quota; see disk.held_unlinked_bytes)."""
        try:
            dev = os.stat(handle.private["spec"]["drive_root"]).st_dev
        except OSError:
            return 0
        return disk.held_unlinked_bytes(cgroup.pids(), dev)
