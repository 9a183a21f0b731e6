"""Runtimes started ahead, so that a connect is answered at once.

The pool keeps ``runtime_pool`` runtimes started (see the backend's ``prestart``) for each
runtime image and disk size people connect with, the default image and the default tier's disk
from the start. A connect that finds one takes it (the backend's ``assign`` gives it the
person's drive and limits), and a refill starts in the background, at the lowest priority of
the start gate (:mod:`dikte.control.starts`): only when no person waits, one at a time, and
only once no runtime was taken for :data:`REFILL_AFTER_TAKE` (a burst of connects is served
before anything is started for the next ones). A
pooled runtime is given once and never returned: one that was given is a person's runtime like
any other and ends like one. Nothing records a pooled runtime, so they count against nobody's
limits, and a server killed with a full pool leaves runtimes that no record claims, which the
start-up sweep ends (see :meth:`SessionManager.reattach_all`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dikte.control.starts import POOL, StartGate
from dikte.errors import DikteError, SandboxUnavailable
from dikte.runtimes.base import Alive, RuntimeBackend, RuntimeHandle, RuntimeSpec

log = logging.getLogger(__name__)

RETRY_SECONDS = 30.0
"""After a failed pre-start, the next try for that key waits this long."""
REFILL_AFTER_TAKE = 1.0
"""Refills wait until no runtime was taken for this long: the CPU goes to the connects being
answered (their drive mounts, their kernels' first cells) first."""


@dataclass(frozen=True, order=True)
class PoolKey:
    image: str
    disk_bytes: int


@dataclass
class _Shelf:
    ready: list[RuntimeHandle] = field(default_factory=list)
    starting: int = 0
    failed_at: float = 0.0
    error: str = ""


class RuntimePool:
    def __init__(self, backend: RuntimeBackend, size: int, gate: StartGate,
                 spec_for: Callable[[str, PoolKey], RuntimeSpec],
                 new_id: Callable[[], str]) -> None:
        self.backend = backend
        self.size = size
        self.gate = gate
        self.spec_for = spec_for
        """A pre-start's spec: its runtime id and key."""
        self.new_id = new_id
        self.off_reason = ""
        if size == 0:
            self.off_reason = "runtime_pool is 0"
        elif not hasattr(backend, "prestart"):
            self.off_reason = f"the {backend.name} backend cannot pre-start runtimes"
        self._shelves: dict[PoolKey, _Shelf] = {}
        self._wake = asyncio.Event()
        self._filler: asyncio.Task[None] | None = None
        self._starts: set[asyncio.Task[None]] = set()
        self.given = 0
        self._last_take = float("-inf")

    @property
    def on(self) -> bool:
        return not self.off_reason

    def want(self, key: PoolKey) -> None:
        """Keep runtimes of ``key`` ready from now on."""
        if self.on and key not in self._shelves:
            self._shelves[key] = _Shelf()
            self._wake.set()

    def start(self) -> None:
        if self.on and self._filler is None:
            self._filler = asyncio.create_task(self._fill(), name="runtime-pool")

    def take(self, key: PoolKey) -> RuntimeHandle | None:
        """A ready runtime of ``key``, now given away (None when there is none); the pool
        refills in the background."""
        if not self.on:
            return None
        self.want(key)
        shelf = self._shelves[key]
        handle = shelf.ready.pop(0) if shelf.ready else None
        self.given += handle is not None
        self._last_take = time.monotonic()
        self._wake.set()
        return handle

    async def discard(self, handle: RuntimeHandle) -> None:
        """Stop a runtime taken but not given (its assignment failed)."""
        with contextlib.suppress(Exception):
            await self.backend.stop(handle, grace=0.5)

    def info(self) -> dict[str, Any]:
        """For admins: the size, and what is ready (runtime ids) and starting for each image and
        disk, and how many were given since the server started."""
        return {"size": self.size, "on": self.on, "given": self.given, "off_reason": self.off_reason,
                "start_slots": self.gate.slots, "starts_running": self.gate.running,
                "starts_waiting": self.gate.waiting,
                "shelves": [{"image": k.image, "disk_bytes": k.disk_bytes,
                             "ready": [h.runtime_id for h in s.ready], "starting": s.starting,
                             "last_error": s.error}
                            for k, s in sorted(self._shelves.items())]}

    async def close(self) -> None:
        """Stop the refills and every ready runtime (nobody was given them)."""
        if self._filler is not None:
            self._filler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._filler
        for task in list(self._starts):
            task.cancel()
        await asyncio.gather(*self._starts, return_exceptions=True)
        ready = [h for s in self._shelves.values() for h in s.ready]
        for s in self._shelves.values():
            s.ready.clear()
        await asyncio.gather(*(self.discard(h) for h in ready))

    async def _fill(self) -> None:
        while self.on:
            self._wake.clear()
            quiet = self._last_take + REFILL_AFTER_TAKE - time.monotonic()
            if quiet > 0:
                await asyncio.sleep(quiet)
                continue
            await self._drop_dead()
            now = time.monotonic()
            for key, shelf in self._shelves.items():
                missing = self.size - len(shelf.ready) - shelf.starting
                if missing > 0 and now - shelf.failed_at >= RETRY_SECONDS:
                    for _ in range(missing):
                        shelf.starting += 1
                        task = asyncio.create_task(self._prestart(key, shelf))
                        self._starts.add(task)
                        task.add_done_callback(self._starts.discard)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), RETRY_SECONDS)

    async def _prestart(self, key: PoolKey, shelf: _Shelf) -> None:
        try:
            async with self.gate.turn(POOL):
                spec = self.spec_for(self.new_id(), key)
                handle = await self.backend.prestart(spec)  # type: ignore[attr-defined]
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            shelf.failed_at, shelf.error = time.monotonic(), str(exc)
            # a sentence says it all for a refusal (an image not built yet); else the trace
            log.warning("pre-starting a runtime of %s failed: %s", key, exc,
                        exc_info=not isinstance(exc, DikteError))
            if isinstance(exc, SandboxUnavailable) and not self.off_reason:
                self.off_reason = f"pre-starting runtimes failed: {exc}"
            return
        finally:
            shelf.starting -= 1
        shelf.ready.append(handle)
        shelf.error = ""
        log.info("runtime %s started ahead for %s (%d ready)", handle.runtime_id, key,
                 len(shelf.ready))

    async def _drop_dead(self) -> None:
        """A ready runtime whose kernel ended is of no use: stopped, and replaced."""
        for shelf in self._shelves.values():
            for handle in list(shelf.ready):
                if not isinstance(await self.backend.poll(handle), Alive) \
                        and handle in shelf.ready:  # (else given meanwhile)
                    shelf.ready.remove(handle)
                    log.warning("runtime %s started ahead ended before it was given",
                                handle.runtime_id)
                    await self.discard(handle)
