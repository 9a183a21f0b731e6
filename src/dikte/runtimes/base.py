"""The runtime backend contract.

A *runtime* is one IPython kernel plus its instance space (a private ``/content``, ``/tmp``, home
and package layer), its sandbox and its resource limits. A backend starts, watches, restarts and
stops runtimes; ``sessions/`` is its only caller. The contract is modelled on JupyterHub's
``Spawner`` (start, poll, stop, get_state/load_state) and jupyter_client's kernel provisioners
(connection info, persistence so another server can re-attach).

Life of a runtime::

    start(spec) ──> handle ──> poll() == Alive ... ──> poll() == Exited(reason)  (the kernel died)
                       │                                       │
                       ├── restart_kernel(handle) -> handle'   │  (same instance space)
                       ├── state(handle) -> dict ── reattach(dict) -> handle | None
                       └── stop(handle) ───────────────────────┴──> everything gone

A backend never talks the Jupyter protocol itself: ``handle.connection`` is what a kernel client
needs, and the caller waits for ``kernel_info`` on its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

RUNTIME_ID = re.compile(r"[a-z0-9]{12}")
MIN_DISK_BYTES = 16 * 2**20
"""The smallest storage a runtime can have (a file system needs some room of its own)."""
MIN_PROCESSES = 32
"""The fewest processes and threads a runtime can start with (the sandbox and a kernel)."""


@dataclass(frozen=True)
class RuntimeSpec:
    """What one runtime asks for."""

    runtime_id: str
    """Short id, ``[a-z0-9]{12}``; names the instance space and the cgroup."""
    owner_id: int
    """The person's id; sandboxes run as ``sandbox_uid_base + owner_id`` when Dikte runs as root."""
    drive_root: Path
    """Host directory bound read-write at ``/content/drive/MyDrive``."""
    python: str
    """The image's python executable; it must have ipykernel."""
    memory_bytes: int
    """RAM limit (cgroup)."""
    cpu_weight: int
    """1..10000 on the cgroup v2 ``cpu.weight`` scale (100 is the default share)."""
    disk_bytes: int = 50 * 2**30
    """Size of the runtime's own storage (``/content``, ``/tmp``, ``/root``, the package and
    system layers): a backend that can make a file system of exactly this size does, so writes
    past it fail with ENOSPC; others measure and stop. The default is ``runtime_disk``'s."""
    max_processes: int = 2048
    """Most processes and threads the runtime may run at once (cgroup pids limit); the default
    is the shipped tiers'."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Extra environment variables for the kernel."""
    device_binds: tuple[tuple[str, str], ...] = ()
    """Device nodes bound into the sandbox, (host path, sandbox path): the runtime's accelerators
    and nothing else of the host's /dev."""
    masked_paths: tuple[str, ...] = ()
    """Paths hidden inside the sandbox under an empty tmpfs (other GPUs' /proc/driver entries)."""

    def validate(self) -> None:
        """Raise ValueError for a spec no backend may accept (a programming error)."""
        if not RUNTIME_ID.fullmatch(self.runtime_id):
            raise ValueError(f"runtime_id must match [a-z0-9]{{12}}, got {self.runtime_id!r}")
        if self.owner_id < 0:
            raise ValueError(f"owner_id must be >= 0, got {self.owner_id}")
        if not 1 <= self.cpu_weight <= 10000:
            raise ValueError(f"cpu_weight must be in 1..10000, got {self.cpu_weight}")
        if self.memory_bytes <= 0:
            raise ValueError(f"memory_bytes must be positive, got {self.memory_bytes}")
        if self.disk_bytes < MIN_DISK_BYTES:
            raise ValueError(f"disk_bytes must be at least {MIN_DISK_BYTES}, got {self.disk_bytes}")
        if self.max_processes < MIN_PROCESSES:
            raise ValueError(f"max_processes must be at least {MIN_PROCESSES}, "
                             f"got {self.max_processes}")


@dataclass
class RuntimeHandle:
    """A started runtime, as the control plane holds it."""

    runtime_id: str
    pid: int
    """Host pid of the runtime's top process (the sandbox launcher, or the kernel)."""
    connection: dict[str, Any]
    """Jupyter connection info for the control-plane side; pass it to
    ``AsyncKernelClient().load_connection_info``."""
    instance_dir: Path
    started_at: float
    memory_limit: int
    private: dict[str, Any] = field(default_factory=dict)
    """Backend-specific, JSON-able details (cgroup paths, socket dir, uid...)."""


@dataclass(frozen=True)
class Alive:
    """The kernel process is running."""


@dataclass(frozen=True)
class Exited:
    """The kernel process has ended."""

    reason: str
    """``"oom"`` | ``"exited"`` | ``"killed"`` | ``"missing"``."""
    exit_code: int | None
    detail: str
    """A sentence for people."""


@dataclass(frozen=True)
class Usage:
    memory_bytes: int
    memory_limit: int
    disk_bytes: int
    """Bytes of the runtime's own storage in use, held-open deleted files included."""
    drive_held_bytes: int = 0
    """Bytes of files deleted from the drive that the runtime's processes still hold open: they
    take room on the drive's disk until closed, so they count against the drive quota."""


@runtime_checkable
class RuntimeBackend(Protocol):
    """How the control plane runs runtimes. Every method may be called from one event loop."""

    name: str

    async def start(self, spec: RuntimeSpec) -> RuntimeHandle:
        """Create the instance space, sandbox and limits, and launch the kernel.

        Returns once the kernel process is up (it may not answer ``kernel_info`` yet; the caller
        waits for that). On failure nothing is left behind and :class:`RuntimeUnavailable` is raised
        with a sentence for people and, in its log message, the tail of the kernel log. A host that
        cannot sandbox at all raises :class:`SandboxUnavailable`.
        """
        ...

    async def poll(self, handle: RuntimeHandle) -> Alive | Exited:
        """``Alive()`` while the kernel runs, else ``Exited`` with the reason (``"oom"`` when the
        runtime was killed for using all its RAM). Cheap; safe to call every second."""
        ...

    async def restart_kernel(self, handle: RuntimeHandle) -> RuntimeHandle:
        """End the kernel's process tree and start a new kernel in the same instance space (files
        in ``/content`` and ``/tmp`` and installed packages survive). Same ``runtime_id``; a new
        pid, connection key and baseline for OOM detection. Works on an exited runtime too."""
        ...

    async def stop(self, handle: RuntimeHandle, grace: float = 3.0) -> None:
        """End every process of the runtime (SIGTERM, then SIGKILL after ``grace`` seconds),
        remove its limits and delete its instance space. Idempotent."""
        ...

    def state(self, handle: RuntimeHandle) -> dict[str, Any]:
        """JSON-able state from which :meth:`reattach` rebuilds the handle after the control
        plane restarts."""
        ...

    async def reattach(self, state: dict[str, Any], *,
                       revive: bool = False) -> RuntimeHandle | None:
        """The handle for a runtime that is still running, or ``None`` when it is gone (its
        leftovers are then cleaned up). ``revive``: it was being restarted when the control
        plane stopped; if its kernel is gone but its instance space is kept, a new kernel
        there (marked ``private["revived"]``), as the restart would have given."""
        ...

    async def usage(self, handle: RuntimeHandle) -> Usage:
        """Current RAM use and limit, bytes in use in the runtime's storage, and what its
        processes hold open of files deleted from the drive. Cheap: no walk over files."""
        ...
