"""Runtimes without a sandbox, for ``--unsafe-no-sandbox`` development on one's own machine.

The kernel runs directly as the current user, with ``content/`` of the instance space as its cwd
and ``content/drive/MyDrive`` a symlink to the drive. Nothing is isolated and nothing is limited:
the kernel can read every file the control plane can. RAM use is measured with psutil over the
kernel's session; the memory limit is only reported, never enforced. Its path and extension are
a sandboxed kernel's (``google.colab``, ``dikte.kernel``, ``dikte_runtime``; see
:mod:`dikte.runtimes.sandbox`), with host paths.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psutil

from dikte.config import Settings
from dikte.drive import Drive
from dikte.errors import DikteError, RuntimeUnavailable
from dikte.runtimes import procs, shells
from dikte.runtimes.base import Alive, Exited, RuntimeHandle, RuntimeSpec, Usage
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
    COLAB_PACKAGE,
    DIKTE_PACKAGE,
    KERNEL_EXTENSION,
    PythonLayout,
    make_dirs_beneath,
    probe_python,
    runtime_pythonpath,
)
from dikte.runtimes.terminal import Terminal


class UnsandboxedBackend:
    """Kernels as plain child processes (see the module docstring)."""

    name = "unsandboxed"

    def __init__(self, data_dir: Path, *, start_timeout: float = 60.0,
                 drives: Path | None = None, images: Mapping[str, str] | None = None):
        self.data_dir = Path(os.path.abspath(data_dir))
        self.drives = Path(os.path.abspath(drives or self.data_dir / "drives"))
        """The drives volume: a spec's ``drive`` names a folder in it."""
        self.images = dict(images or {})
        """Runtime images on this machine: name -> the python of its environment."""
        self.start_timeout = start_timeout
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._checked: dict[str, PythonLayout] = {}

    def _space(self, handle: RuntimeHandle) -> InstanceSpace:
        return InstanceSpace(instance_dir_of(handle), Path(handle.private["sock_dir"]))

    def _pids(self, handle: RuntimeHandle) -> set[int]:
        """The kernel's session, and that of our current child for this runtime (``handle`` may
        be an older one, from before a restart)."""
        out: set[int] = set()
        if procs.is_running(pid_of(handle), handle.private.get("pid_start")):
            out |= procs.session_pids(pid_of(handle)) | {pid_of(handle)}
        child = self._children.get(handle.runtime_id)
        if child is not None and child.poll() is None:
            out |= procs.session_pids(child.pid) | {child.pid}
        return out

    def _python(self, spec: RuntimeSpec) -> str:
        return image_python(self.images, spec.image)

    async def _launch(self, spec: RuntimeSpec, python: str,
                      space: InstanceSpace) -> RuntimeHandle:
        if python not in self._checked:
            self._checked[python] = await probe_python(python)
        site = self._checked[python].site
        for rel in site:
            make_dirs_beneath(space.site, rel, None)
        space.clear_sockets()
        host_conn, _ = new_connection(str(space.sock / "kernel"), "")
        write_connection_file(space.connection_file, host_conn, None)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DIKTE_")}
        env.update(HOME=str(space.home), PIP_PREFIX=str(space.site),
                   PYTHONPATH=runtime_pythonpath(str(COLAB_PACKAGE), str(space.site),
                                                 str(_dikte_lib(space)), site),
                   DIKTE_DRIVE=str(space.content / "drive" / "MyDrive"),
                   DIKTE_NOTICE_FILE=str(space.sock / "notice.json"),
                   TMPDIR=str(space.tmp), MPLBACKEND="module://matplotlib_inline.backend_inline",
                   PIP_DISABLE_PIP_VERSION_CHECK="1")
        env.update(spec.env)
        launch = _dikte_lib(space) / "dikte" / "kernel" / "launch.py"
        argv = [python, str(launch), "-f", str(space.connection_file),
                f"--ext={KERNEL_EXTENSION}"]
        child = procs.spawn(argv, space.log, cwd=space.content, env=env)
        self._children[spec.runtime_id] = child
        handle = RuntimeHandle(
            runtime_id=spec.runtime_id, connection=host_conn,
            started_at=time.time(), memory_limit=spec.memory_bytes,
            private={"pid": child.pid, "instance_dir": str(space.root),
                     "pid_start": procs.start_time(child.pid), "sock_dir": str(space.sock),
                     "spec": spec_to_state(spec, python), "site": list(site)},
        )
        ready = await procs.wait_until(lambda: space.sockets_ready() or child.poll() is not None,
                                       self.start_timeout, step=0.05)
        if not ready or child.poll() is not None:
            self._children.pop(spec.runtime_id, None)
            await procs.end_processes(lambda: self._pids(handle), 0.5, child)
            child.wait()
            what = "did not start in time" if not ready else f"exited with code {child.returncode}"
            raise RuntimeUnavailable(
                f"The runtime's kernel {what}.",
                log_message=f"kernel of runtime {spec.runtime_id} {what}; log tail:\n"
                f"{space.log_tail()}",
            )
        return handle

    async def start(self, spec: RuntimeSpec) -> RuntimeHandle:
        spec.validate()
        python = self._python(spec)
        drive = self.drives / spec.drive
        if not drive.is_dir():
            raise RuntimeUnavailable("Your drive is not available right now.",
                                     log_message=f"drive {drive} is missing")
        space = InstanceSpace.plan(self.data_dir, spec.runtime_id)
        try:
            space.create(None)
        except FileExistsError:
            raise RuntimeUnavailable("A runtime with this id already exists.",
                                     log_message=f"{space.root} already exists") from None
        try:
            _link_drive(space, drive)
            return await self._launch(spec, python, space)
        except BaseException:
            await asyncio.to_thread(space.remove)
            raise

    async def poll(self, handle: RuntimeHandle) -> Alive | Exited:
        child = self._children.get(handle.runtime_id)
        if child is not None and child.pid == pid_of(handle):
            code = child.poll()
            return Alive() if code is None else exit_for(code, missing=False, oom=False,
                                                          limit=handle.memory_limit)
        info = procs.proc_info(pid_of(handle))
        if info is None or info.start_time != handle.private.get("pid_start"):
            return exit_for(None, missing=True, oom=False, limit=handle.memory_limit)
        if info.ended:
            return exit_for(info.exit_code, missing=False, oom=False, limit=handle.memory_limit)
        return Alive()

    async def restart_kernel(self, handle: RuntimeHandle) -> RuntimeHandle:
        child = self._children.get(handle.runtime_id)
        await procs.end_processes(lambda: self._pids(handle), 3.0, child)
        self._children.pop(handle.runtime_id, None)
        new = await self._launch(spec_from_handle(handle), python_of(handle),
                                 self._space(handle))
        new.started_at = handle.started_at
        return new

    async def stop(self, handle: RuntimeHandle, grace: float = 3.0) -> None:
        child = self._children.get(handle.runtime_id)
        ended = await procs.end_processes(lambda: self._pids(handle), grace, child)
        self._children.pop(handle.runtime_id, None)
        if child is not None and ended:
            child.wait()
        await asyncio.to_thread(self._space(handle).remove)
        if not ended:
            raise DikteError("The runtime could not be stopped completely.",
                             log_message=f"runtime {handle.runtime_id} still has processes")

    def state(self, handle: RuntimeHandle) -> dict[str, Any]:
        return handle_to_state(self.name, handle)

    async def reattach(self, state: dict[str, Any], *,
                       revive: bool = False) -> RuntimeHandle | None:
        handle = handle_from_state(self.name, state)
        if handle is None:
            return None
        if procs.is_running(pid_of(handle), handle.private.get("pid_start")):
            return handle
        await self.stop(handle, grace=0.5)
        return None

    async def notify(self, handle: RuntimeHandle, notice: dict[str, Any]) -> None:
        await asyncio.to_thread(write_notice, handle, notice)

    async def usage(self, handle: RuntimeHandle) -> Usage:
        def measure() -> tuple[int, int]:
            rss = 0
            for pid in self._pids(handle):
                try:
                    rss += psutil.Process(pid).memory_info().rss
                except psutil.Error:
                    pass
            return rss, self._space(handle).disk_bytes()

        rss, disk = await asyncio.to_thread(measure)
        return Usage(rss, handle.memory_limit, disk)

    # -- what the control plane reaches inside a runtime: the host's own ------------------

    async def open_terminal(self, handle: RuntimeHandle, cols: int, rows: int) -> Terminal:
        return await shells.plain_terminal(handle, cols, rows)

    def content(self, handle: RuntimeHandle) -> Drive:
        return Drive(instance_dir_of(handle) / "content", create=False)

    def content_root(self, handle: RuntimeHandle) -> str:
        return str(instance_dir_of(handle) / "content")

    async def connect_port(self, handle: RuntimeHandle, port: int,
                           timeout: float = 10.0) -> socket.socket:
        # the kernel runs as this process's user, on the host's network
        return await connect_owned(None, port, os.geteuid(), timeout)

    def shares_loopback(self, handle: RuntimeHandle) -> bool:
        return True


def _dikte_lib(space: InstanceSpace) -> Path:
    """A folder holding only a link to the ``dikte`` package, for the kernel's path: the
    package's parent may be a whole site-packages that must not shadow the image's."""
    lib = space.root / "lib"
    if not (lib / "dikte").is_symlink():
        lib.mkdir(exist_ok=True)
        (lib / "dikte").symlink_to(DIKTE_PACKAGE)
    return lib


def _link_drive(space: InstanceSpace, drive_root: Path) -> None:
    (space.content / "drive").mkdir()
    (space.content / "drive" / "MyDrive").symlink_to(os.path.abspath(drive_root))
    (space.content / "drive" / "My Drive").symlink_to("MyDrive")  # Colab's first name for it


def from_settings(settings: Settings) -> UnsandboxedBackend:
    """The ``unsandboxed`` entry point (``--unsafe-no-sandbox``: one person's development)."""
    return UnsandboxedBackend(settings.data_dir, drives=settings.drives_root(),
                              images=image_pythons(settings))
