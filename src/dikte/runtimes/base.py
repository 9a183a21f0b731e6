"""The runtime backend contract.

A *runtime* is one IPython kernel plus its instance space (a private ``/content``, ``/tmp``, home
and package layer), its sandbox and its resource limits. A backend starts, watches, restarts and
stops runtimes; ``control/`` and ``bridge/`` are its only callers. The contract is modelled on JupyterHub's
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

Everything that depends on where a runtime runs is behind this contract, so the control plane
never reads a host path, a pid, ``/proc`` or a cgroup of a runtime: its terminal
(:meth:`RuntimeBackend.open_terminal`), its ``/content`` (:meth:`~RuntimeBackend.content`,
:meth:`~RuntimeBackend.content_root`), its ports (:meth:`~RuntimeBackend.connect_port`,
:meth:`~RuntimeBackend.shares_loopback`), its preemption notice and its usage.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from dikte.drive import Drive
    from dikte.runtimes.terminal import Terminal

RUNTIME_ID = re.compile(r"[a-z0-9]{12}")
DRIVE_NAME = re.compile(r"[A-Za-z0-9_.-]+")
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
    drive: str
    """The person's drive, as a volume reference: its folder's name in the backend's drives
    volume (``drives_dir``: on a cluster node, where the drives' shared filesystem is mounted
    there), bound read-write at ``/content/drive/MyDrive``. Never a host path."""
    image: str
    """The runtime image's name; the backend finds its environment (each machine's own
    configuration says where an image is: ``images_dir``, or an admin's ``python``)."""
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
    node: str = ""
    """The cluster node the runtime must run on (where its accelerators are); empty: any node
    its demands fit. A backend of one machine ignores it."""

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
        if not DRIVE_NAME.fullmatch(self.image):
            raise ValueError(f"image must be an image's name, got {self.image!r}")
        if not DRIVE_NAME.fullmatch(self.drive) or self.drive in (".", ".."):
            raise ValueError(f"drive must name a folder of the drives volume, got {self.drive!r}")
        if self.max_processes < MIN_PROCESSES:
            raise ValueError(f"max_processes must be at least {MIN_PROCESSES}, "
                             f"got {self.max_processes}")


@dataclass
class RuntimeHandle:
    """A started runtime, as the control plane holds it."""

    runtime_id: str
    connection: dict[str, Any]
    """Jupyter connection info for the control-plane side; pass it to
    ``AsyncKernelClient().load_connection_info``."""
    started_at: float
    memory_limit: int
    private: dict[str, Any] = field(default_factory=dict)
    """Backend-specific, JSON-able details (the local backend's host pid, instance space,
    cgroup paths, socket dir, uid...): nobody but the backend reads them."""
    node: str = ""
    """The machine it runs on: a cluster node's name; empty on one machine."""


@dataclass(frozen=True)
class Alive:
    """The kernel process is running."""

    ends_at: float | None = None
    """When the machine under it goes away (epoch seconds; a drained cluster node): the
    control plane tells the person and the kernel, and stops the runtime then."""


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
        A backend whose start may wait without end (for room in a cluster) and undoes itself
        when cancelled says so with a class attribute ``cancellable_start = True``: a
        disconnect then cancels it; others are left to finish and are stopped after.
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

    async def notify(self, handle: RuntimeHandle, notice: dict[str, Any]) -> None:
        """Give the kernel's code a preemption notice (``{"code", "message", "at"}``): what
        ``dikte.kernel.on_preempt`` callbacks react to, to checkpoint before the runtime stops."""
        ...

    async def usage(self, handle: RuntimeHandle) -> Usage:
        """Current RAM use and limit, bytes in use in the runtime's storage, and what its
        processes hold open of files deleted from the drive. Cheap: no walk over files."""
        ...

    async def open_terminal(self, handle: RuntimeHandle, cols: int, rows: int) -> Terminal:
        """A login shell inside the runtime on a new pty of ``cols`` x ``rows``: it sees what a
        cell sees (``/content``, the kernel's environment, the runtime's user) and ends with
        the runtime. :class:`RuntimeUnavailable` (code ``no_terminal``) where this kind of
        runtime offers none, (code ``not_running``) when it has ended."""
        ...

    def content(self, handle: RuntimeHandle) -> Drive:
        """The runtime's ``/content`` for the Files panel, as a :class:`~dikte.drive.Drive`
        (the drive's path safety: walked beneath its root, no link leads out); files written
        through it belong to the runtime's user. Only the instance space's own files: the
        caller serves ``drive/MyDrive`` from the person's drive. :class:`NotFound` when the
        runtime's files are gone (it stopped a moment ago)."""
        ...

    def content_root(self, handle: RuntimeHandle) -> str:
        """The absolute path at which code in the runtime sees its ``/content`` (``/content``
        in a sandbox; a host path where the kernel runs unsandboxed), to read paths the
        runtime names (``files.download(path)``)."""
        ...

    async def connect_port(self, handle: RuntimeHandle, port: int,
                           timeout: float = 10.0) -> socket.socket:
        """A connected, non-blocking TCP socket to ``127.0.0.1:port`` as the runtime sees it,
        only when a process of the runtime (and nothing else) listens there: a
        :class:`~dikte.errors.DikteError` ``port_closed`` (502) when nothing listens,
        :class:`~dikte.errors.Forbidden` ``not_runtime_port`` when someone else does,
        ``OSError``/``TimeoutError`` when the connection fails. The port proxy's only way in."""
        ...

    def shares_loopback(self, handle: RuntimeHandle) -> bool:
        """True when the runtime's ``127.0.0.1`` is the control plane's own (it has no network
        of its own): its port N is then Dikte's port N, which the proxy refuses to serve."""
        ...
