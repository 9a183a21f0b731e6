"""Behavioural fakes of :class:`~dikte.runtimes.base.RuntimeBackend` for tests of higher layers.

They sit at the process boundary, like JupyterHub's mock spawners: wrap a real backend (usually
:class:`~dikte.runtimes.unsandboxed.UnsandboxedBackend` or the local one) and change one behaviour,
or stand alone where no kernel is needed::

    backend = SlowBackend(LocalBackend(data_dir, sandbox_uid_base=600000), delay=2.0)
    backend = FailingBackend(reason="No GPU is free right now.")
    backend = NeverStartingBackend()            # start() hangs until cancelled

To make a running kernel die, run :data:`DIE` in it (``os._exit``), or :data:`EAT_MEMORY` for an
OOM kill under the local backend.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from dikte.drive import Drive
from dikte.errors import DikteError, NotFound, RuntimeUnavailable
from dikte.runtimes.base import Alive, Exited, RuntimeBackend, RuntimeHandle, RuntimeSpec, Usage
from dikte.runtimes.terminal import Terminal

DIE = "import os; os._exit(3)"
EAT_MEMORY = "x = b'\\x01' * (8 << 30)"


class WrappingBackend:
    """Delegates everything to ``inner``; subclasses override what they fake."""

    def __init__(self, inner: RuntimeBackend) -> None:
        self.inner = inner
        self.name = f"{type(self).__name__.lower()}({inner.name})"

    async def start(self, spec: RuntimeSpec) -> RuntimeHandle:
        return await self.inner.start(spec)

    async def poll(self, handle: RuntimeHandle) -> Alive | Exited:
        return await self.inner.poll(handle)

    async def restart_kernel(self, handle: RuntimeHandle) -> RuntimeHandle:
        return await self.inner.restart_kernel(handle)

    async def stop(self, handle: RuntimeHandle, grace: float = 3.0) -> None:
        await self.inner.stop(handle, grace)

    def state(self, handle: RuntimeHandle) -> dict[str, Any]:
        return self.inner.state(handle)

    async def reattach(self, state: dict[str, Any], *,
                       revive: bool = False) -> RuntimeHandle | None:
        return await self.inner.reattach(state, revive=revive)

    async def usage(self, handle: RuntimeHandle) -> Usage:
        return await self.inner.usage(handle)

    async def notify(self, handle: RuntimeHandle, notice: dict[str, Any]) -> None:
        await self.inner.notify(handle, notice)

    async def open_terminal(self, handle: RuntimeHandle, cols: int, rows: int) -> Terminal:
        return await self.inner.open_terminal(handle, cols, rows)

    def content(self, handle: RuntimeHandle) -> Drive:
        return self.inner.content(handle)

    def content_root(self, handle: RuntimeHandle) -> str:
        return self.inner.content_root(handle)

    async def connect_port(self, handle: RuntimeHandle, port: int,
                           timeout: float = 10.0) -> socket.socket:
        return await self.inner.connect_port(handle, port, timeout)

    def shares_loopback(self, handle: RuntimeHandle) -> bool:
        return self.inner.shares_loopback(handle)


class SlowBackend(WrappingBackend):
    """``start`` waits ``delay`` seconds, then delegates (a slow image pull or node boot)."""

    def __init__(self, inner: RuntimeBackend, delay: float) -> None:
        super().__init__(inner)
        self.delay = delay

    async def start(self, spec: RuntimeSpec) -> RuntimeHandle:
        await asyncio.sleep(self.delay)
        return await self.inner.start(spec)


class _NoRuntimes:
    """Standalone base: there are never any runtimes to poll, stop or reattach."""

    name = "none"

    async def poll(self, handle: RuntimeHandle) -> Alive | Exited:
        return Exited("missing", None, "The runtime is no longer running.")

    async def restart_kernel(self, handle: RuntimeHandle) -> RuntimeHandle:
        raise RuntimeUnavailable("The runtime is no longer running.")

    async def stop(self, handle: RuntimeHandle, grace: float = 3.0) -> None:
        return None

    def state(self, handle: RuntimeHandle) -> dict[str, Any]:
        return {"backend": self.name, "runtime_id": handle.runtime_id}

    async def reattach(self, state: dict[str, Any], *,
                       revive: bool = False) -> RuntimeHandle | None:
        return None

    async def usage(self, handle: RuntimeHandle) -> Usage:
        return Usage(0, handle.memory_limit, 0)

    async def notify(self, handle: RuntimeHandle, notice: dict[str, Any]) -> None:
        return None

    async def open_terminal(self, handle: RuntimeHandle, cols: int, rows: int) -> Terminal:
        raise RuntimeUnavailable("The runtime is no longer running.", code="not_running")

    def content(self, handle: RuntimeHandle) -> Drive:
        raise NotFound("The runtime's files are gone.", code="not_found")

    def content_root(self, handle: RuntimeHandle) -> str:
        return "/content"

    async def connect_port(self, handle: RuntimeHandle, port: int,
                           timeout: float = 10.0) -> socket.socket:
        raise DikteError(f"Nothing listens on port {port} of the runtime (yet).",
                         code="port_closed", status=502)

    def shares_loopback(self, handle: RuntimeHandle) -> bool:
        return False


class FailingBackend(_NoRuntimes):
    """``start`` raises :class:`RuntimeUnavailable` with ``reason``; counts the attempts."""

    name = "failing"

    def __init__(self, reason: str = "The runtime could not start.", *, log_message: str = ""):
        self.reason = reason
        self.log_message = log_message or f"fake failure: {reason}"
        self.attempts = 0

    async def start(self, spec: RuntimeSpec) -> RuntimeHandle:
        self.attempts += 1
        raise RuntimeUnavailable(self.reason, log_message=self.log_message)


class NeverStartingBackend(_NoRuntimes):
    """``start`` hangs until cancelled (a spawn that never finishes). ``started`` is set once a
    start is pending; ``cancelled`` counts the starts that were cancelled."""

    name = "never-starting"
    cancellable_start = True

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = 0

    async def start(self, spec: RuntimeSpec) -> RuntimeHandle:
        self.started.set()
        try:
            await asyncio.Future()  # never done
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        raise AssertionError("unreachable")
