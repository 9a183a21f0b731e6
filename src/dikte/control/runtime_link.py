"""The tie between an open notebook and its runtime: start, watch, restart, reattach, stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from dikte.accelerators import nvml
from dikte.accelerators.model import Device
from dikte.accelerators.nvml import Utilization
from dikte.config import format_size
from dikte.control.starts import StartGate
from dikte.db import Database
from dikte.errors import Conflict, DikteError, RuntimeUnavailable
from dikte.execution.kernel import KernelChannel, KernelGone
from dikte.runtimes.base import Alive, Exited, RuntimeBackend, RuntimeHandle, RuntimeSpec, Usage

if TYPE_CHECKING:
    from dikte.notebooks.notebook import OpenNotebook

log = logging.getLogger(__name__)

PLACE_POLL_SECONDS = 1.0
"""How often a start that waits for room in a cluster asks for its place."""

READY_TIMEOUT = 60.0
INTERRUPT_GRACE = 0.25
"""Seconds between a cell's execute_input and an interrupt that waited for it to begin."""
POLL_SECONDS = 1.0


class RuntimeEvents(Protocol):
    """What a link reports to its owner, which alone assigns a notebook's runtime (the
    :class:`~dikte.control.manager.SessionManager`; ``dikte run`` for its one runtime)."""

    def runtime_detached(self, link: RuntimeLink) -> None:
        """The link no longer serves its notebook (disconnected, or its start failed): the
        notebook has no runtime from now on, unless the owner gave it another meanwhile.
        A disconnect reports it at once, before the runtime is stopped."""

    def runtime_ended(self, link: RuntimeLink) -> None:
        """The runtime is stopped, or its place in the accelerator queue given up: what it
        held (its accelerators) can go to another. Reported once."""


class RuntimeLink:
    """A runtime attached to one notebook. ``status`` is queued (waiting for an accelerator),
    starting, connected or restarting. It tells ``events`` when it ends; it never assigns
    ``nb.runtime`` itself."""

    def __init__(self, nb: OpenNotebook, *, backend: RuntimeBackend, db: Database | None,
                 events: RuntimeEvents, runtime_id: str, image: str, disk_limit: int,
                 disk_check_seconds: float) -> None:
        self.nb = nb
        self.events = events
        self.backend = backend
        self.db = db
        self.runtime_id = runtime_id
        self.image = image
        self.disk_limit = disk_limit
        self.disk_check_seconds = disk_check_seconds
        self.status = "starting"
        self.started_at = time.time()
        self.handle: RuntimeHandle | None = None
        self._channel: KernelChannel | None = None
        self.last_usage: Usage | None = None
        self._monitor: asyncio.Task[None] | None = None
        self._barrier_task: asyncio.Task[None] | None = None
        self._widgets_task: asyncio.Task[None] | None = None
        self._interrupts: set[asyncio.Future[None]] = set()
        self._pending_state: dict[str, Any] | None = None
        self._state_writer: asyncio.Task[None] | None = None
        self._pending_after: list[Callable[[], None]] = []
        self._ended = False
        self.shape = "standard"
        self.background = False
        """Admitted with background execution: keeps running with no viewer."""
        self.warned_at: dict[str, float] = {}
        """Warnings already given, by rule code (see dikte.policy.lifecycle)."""
        self.devices: list[Device] = []
        """Accelerators allocated to it."""
        self.pooled: RuntimeHandle | None = None
        """A runtime started ahead (see dikte.control.pool) that the start gives it, if any."""
        self.start_gate: StartGate | None = None
        """Where a start on this machine waits its turn (see dikte.control.starts)."""
        self.queue_position: int | None = None
        self._starting: asyncio.Future[RuntimeHandle] | None = None
        """The backend's start while it runs (a disconnect cancels it)."""
        self.waiting_for: str | None = None
        """While queued: what for, in words (a GPU type, or a machine with room)."""
        """Place in the accelerator queue while ``status`` is queued (1 = next)."""
        self.accelerator_usage: dict[str, Utilization] = {}

    @property
    def ready(self) -> bool:
        return self.status == "connected" and self._channel is not None

    @property
    def channel(self) -> KernelChannel:
        if self._channel is None:
            raise RuntimeUnavailable("The runtime is not connected yet.", code="not_connected")
        return self._channel

    def info(self) -> dict[str, Any]:
        u = self.last_usage
        accel = []
        for d in self.devices:
            use = self.accelerator_usage.get(d.id)
            accel.append({"id": d.id, "type": d.type, "model": d.model,
                          "memory_total": use.memory_total if use else (d.memory_bytes or None),
                          "memory_used": use.memory_used if use else None,
                          "utilization": use.gpu_percent if use else None})
        return {
            "runtime_id": self.runtime_id, "image": self.image, "status": self.status,
            "shape": self.shape, "background": self.background,
            "started_at": self.started_at, "queue_position": self.queue_position,
            "waiting_for": self.waiting_for if self.status == "queued" else None,
            "accelerators": accel,
            "memory_bytes": u.memory_bytes if u else None,
            "memory_limit": u.memory_limit if u else (
                self.handle.memory_limit if self.handle else None),
            "disk_bytes": u.disk_bytes if u else None, "disk_limit": self.disk_limit,
            "node": self.handle.node if self.handle else "",
        }

    def _announce(self, message: str | None = None) -> None:
        self.nb.broadcast({"type": "runtime", "status": self.status, "runtime": self.info(),
                           "message": message})

    def persist_exec_state(self, state: dict[str, Any],
                           after: Callable[[], None] | None = None) -> None:
        """Record the queue for a restarted control plane, off the event loop, in order;
        ``after`` (sending a cell to the kernel) runs once a state that includes it is on
        record. States recorded meanwhile are coalesced: only the latest is written."""
        if self.db is None or self.handle is None:
            if after is not None:
                after()
            return
        self._pending_state = state
        if after is not None:
            self._pending_after.append(after)
        if self._state_writer is None or self._state_writer.done():
            self._state_writer = asyncio.create_task(self._write_states())

    async def _write_states(self) -> None:
        db = self.db
        assert db is not None
        while self._pending_state is not None:
            state, self._pending_state = self._pending_state, None
            afters, self._pending_after = self._pending_after, []
            try:
                await asyncio.to_thread(db.update_runtime, self.runtime_id, exec_state=state)
            except Exception:
                # the cell still runs: refusing work while the database is unwritable (a full
                # disk) would be worse than the rare crash in the same moment
                log.exception("recording the queue of %s failed", self.runtime_id)
            for after in afters:
                try:
                    after()
                except Exception:
                    log.exception("sending a cell to runtime %s failed", self.runtime_id)

    # lifecycle

    async def launch(self, spec: RuntimeSpec) -> None:
        """Start the runtime and wait until its kernel answers."""
        self.status, self.queue_position = "starting", None
        self.started_at = time.time()  # accelerator time counts from here, not from the queue
        self._announce()
        try:
            if self.db is not None:
                # intent first: a server killed from here on finds the record at start-up and
                # ends whatever of the runtime came to be (see SessionManager.reattach_all)
                from dikte.db import RuntimeRecord

                await asyncio.to_thread(self.db.add_runtime, RuntimeRecord(
                    id=self.runtime_id, person_id=self.nb.person_id,
                    notebook_path=self.nb.path, image=self.image, backend=self.backend.name,
                    status="starting", started_at=self.started_at, backend_state={},
                    exec_state=self.nb.exec_state(), shape=self.shape,
                    background=self.background, devices=[d.id for d in self.devices]))
            self._check_wanted()
            self.handle = await self._start_in_line(spec)
            self._check_wanted()
            if self.db is not None:
                await asyncio.to_thread(
                    self.db.update_runtime, self.runtime_id, status="running",
                    backend_state=self.backend.state(self.handle),
                    exec_state=self.nb.exec_state())
            self._check_wanted()
            await self._open_channel(wait=True)
            self._check_wanted()
        except BaseException as exc:
            await self._fail_start(exc)
            raise
        self.status = "connected"
        self._announce()
        self._monitor = asyncio.create_task(self._watch(), name=f"watch-{self.runtime_id}")
        self.nb.pump()

    async def _start_in_line(self, spec: RuntimeSpec) -> RuntimeHandle:
        """``backend.start``; while the backend says the runtime waits for room (a cluster
        with no machine free for its demands: ``place_in_line``), it shows as queued with its
        place, as a runtime waiting for an accelerator does."""
        pooled, self.pooled = self.pooled, None
        if pooled is not None:
            given = await self._give_pooled(pooled, spec)
            if given is not None:
                return given
        place_in_line = getattr(self.backend, "place_in_line", None)
        start = self._starting = asyncio.ensure_future(self._start_in_turn(spec))
        try:
            while place_in_line is not None and not start.done():
                await asyncio.wait({start}, timeout=PLACE_POLL_SECONDS)
                place = None if start.done() else place_in_line(self.runtime_id)
                if place != self.queue_position:
                    self.status = "queued" if place is not None else "starting"
                    self.queue_position, self.waiting_for = place, "a machine with room"
                    self._announce()
            return await start
        except asyncio.CancelledError:
            start.cancel()
            task = asyncio.current_task()
            if self._ended and task is not None and not task.cancelling():
                # shutdown() cancelled the start (disconnected while starting), not our caller
                raise Conflict("The runtime was disconnected while it was starting.",
                               code="disconnected_while_starting") from None
            raise
        except BaseException:
            start.cancel()
            with contextlib.suppress(BaseException):
                await start
            raise
        finally:
            self._starting = None
            if self.status == "queued":
                self.status, self.queue_position = "starting", None

    async def _start_in_turn(self, spec: RuntimeSpec) -> RuntimeHandle:
        if self.start_gate is None:
            return await self.backend.start(spec)
        async with self.start_gate.turn(self.nb.person_id):
            return await self.backend.start(spec)

    async def _give_pooled(self, pooled: RuntimeHandle, spec: RuntimeSpec) -> RuntimeHandle | None:
        """The runtime started ahead, now the person's; None if its kernel had ended (then a
        runtime of the same id starts as any other)."""
        try:
            if isinstance(await self.backend.poll(pooled), Alive):
                return await self.backend.assign(pooled, spec)  # type: ignore[attr-defined, no-any-return]
            log.warning("runtime %s started ahead had ended; starting one", self.runtime_id)
        except RuntimeUnavailable:
            log.warning("runtime %s started ahead could not be given; starting one",
                        self.runtime_id, exc_info=True)
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.backend.stop(pooled, grace=0.5))
            raise
        await self.backend.stop(pooled, grace=0.5)
        return None

    def _check_wanted(self) -> None:
        if self._ended:
            raise Conflict("The runtime was disconnected while it was starting.",
                           code="disconnected_while_starting")

    async def _fail_start(self, exc: BaseException) -> None:
        if self._ended:  # disconnected meanwhile: shutdown() told everyone; stop what started
            await self._teardown()
            if self.db is not None:  # unless shutdown() already put its reason on record
                db = self.db

                def end_if_live() -> None:
                    rec = db.runtime(self.runtime_id)
                    if rec is not None and rec.status != "ended":
                        db.end_runtime(self.runtime_id, "It was disconnected while starting.")

                await asyncio.to_thread(end_if_live)
            return
        message = exc.message if isinstance(exc, DikteError) else "The runtime failed to start."
        log.warning("runtime %s failed to start: %r", self.runtime_id, exc)
        self._ended = True
        await self._teardown()
        self.events.runtime_ended(self)
        if self.db is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.db.end_runtime, self.runtime_id,
                                        f"It failed to start: {message}")
        self.events.runtime_detached(self)
        self.nb.cancel()
        self.nb.broadcast({"type": "runtime", "status": "disconnected", "runtime": None,
                           "message": message})

    async def _open_channel(self, wait: bool) -> None:
        assert self.handle is not None
        self._channel = KernelChannel(
            self.handle.connection, session_id=self.runtime_id,
            on_iopub=self.nb.on_iopub, on_shell=self.nb.on_shell, on_stdin=self.nb.on_stdin)
        await self._channel.start()
        if wait:
            try:
                await self._channel.wait_ready(READY_TIMEOUT)
            except KernelGone as exc:
                raise RuntimeUnavailable(
                    f"The runtime's kernel did not start within {READY_TIMEOUT:.0f} seconds.",
                    log_message=str(exc)) from exc

    async def reattach(self, handle: RuntimeHandle, exec_state: dict[str, Any],
                       revived: bool = False) -> None:
        """Take over a runtime that outlived a control-plane restart. ``revived``: its kernel
        was gone and the backend started a new one in the same instance space; the cell that
        was running then is ended with a note, the queue runs on the new kernel."""
        self.handle = handle
        await self._open_channel(wait=revived)
        self.status = "connected"
        nb = self.nb
        cell_ids = {c["id"] for c in nb.doc.cells}
        running = exec_state.get("running")
        nb.queue.extend(c for c in exec_state.get("queued", []) if c in cell_ids)
        if revived:
            nb.notice("The kernel was restarted while the server was down (a restart was under "
                      "way, or the kernel had stopped); files in /content are kept.")
            if running and running.get("cell_id") in cell_ids:
                nb.resume_running(running["cell_id"], running["msg_id"])
                nb.finish_running("interrupted", "[The kernel was restarted while the server "
                                  "was down.]\n")
            if nb.queue:
                nb.idle.clear()
        elif running and running.get("cell_id") in cell_ids:
            nb.resume_running(running["cell_id"], running["msg_id"])
            self._barrier_task = asyncio.create_task(self._barrier(running["msg_id"]))
        elif nb.queue:
            nb.idle.clear()
        if not revived:
            self._widgets_task = asyncio.create_task(self._restore_widgets())
        self._monitor = asyncio.create_task(self._watch(), name=f"watch-{self.runtime_id}")
        nb.pump()

    async def _restore_widgets(self) -> None:
        """The kernel outlived the server: its widgets are alive, but this server never saw
        them open. Once the kernel listens (after a running cell), ask it for their state."""
        try:
            try:
                await self.channel.wait_ready(5.0)
            except KernelGone:  # a cell runs: the shell answers once it ends
                await self.channel.request("shell", "kernel_info_request", {}, timeout=10**9)
            self.nb.request_widget_states()
        except (KernelGone, RuntimeUnavailable, asyncio.CancelledError):
            return

    async def _barrier(self, msg_id: str) -> None:
        """The shell answers kernel_info only after the cell before it finished."""
        try:
            await self.channel.request("shell", "kernel_info_request", {}, timeout=10**9)
        except (KernelGone, RuntimeUnavailable, asyncio.CancelledError):
            return
        await asyncio.sleep(0.2)  # let the cell's own idle status arrive first if it is coming
        if self.nb.running_msg == msg_id:
            self.nb.finish_running()

    async def restart(self, message: str | None = None, *, status: str = "interrupted") -> None:
        """End the kernel and start a new one in the same instance space."""
        assert self.handle is not None
        self.status = "restarting"
        self._announce(message)
        self.nb.abandon_all(message or "The kernel was restarted.", status=status)
        await self._close_channel()
        try:
            if self.db is not None:
                # intent first: a server killed from here until the new kernel is on record
                # finds the old one gone at start-up and starts another in the same instance
                # space (RuntimeBackend.reattach with revive), so /content is never lost
                await asyncio.to_thread(self.db.update_runtime, self.runtime_id,
                                        status="restarting")
            self.handle = await self.backend.restart_kernel(self.handle)
            if self.db is not None:
                await asyncio.to_thread(self.db.update_runtime, self.runtime_id,
                                        status="running",
                                        backend_state=self.backend.state(self.handle))
            await self._open_channel(wait=True)
        except DikteError as exc:
            await self.shutdown(f"The runtime could not restart: {exc.message}")
            return
        self.status = "connected"
        self._announce(message)
        self.nb.pump()

    async def interrupt(self) -> None:
        """Interrupt the running cell. A cell on its way to the kernel (see
        OpenNotebook.pump), or sent but not begun, is interrupted as soon as the kernel begins
        it: ipykernel ignores an interrupt that comes between cells, so one sent earlier would
        be lost and the cell would run on."""
        if self._state_writer is not None and not self._state_writer.done():
            await asyncio.shield(self._state_writer)
        nb = self.nb
        if nb.running is not None and not nb.running_started:
            nb.interrupt_when_started = True
            return
        await self.channel.interrupt()

    def interrupt_soon(self) -> None:
        """The cell an interrupt waited for has begun: interrupt it a moment later. Right at
        its execute_input, ipykernel is still on its way to the cell's code, and an interrupt
        landing there is lost as well."""
        task = asyncio.ensure_future(self._interrupt_now())
        self._interrupts.add(task)
        task.add_done_callback(self._interrupts.discard)

    async def _interrupt_now(self) -> None:
        msg_id = self.nb.running_msg
        await asyncio.sleep(INTERRUPT_GRACE)
        if self.nb.running_msg != msg_id or not self.ready:
            return  # it ended meanwhile: nothing to interrupt
        try:
            await self.channel.interrupt()
        except (KernelGone, RuntimeUnavailable) as exc:
            log.warning("interrupting runtime %s failed: %s", self.runtime_id, exc)

    async def shutdown(self, reason: str) -> None:
        """Disconnect and delete: every process ends, the instance space is deleted."""
        if self._ended:
            return
        self._ended = True
        if self._starting is not None and getattr(self.backend, "cancellable_start", False):
            # a start nobody wants any more, which may never finish (a cluster with no room):
            # cancelled where the backend says its start undoes itself when cancelled; the
            # local backend's start always ends (its own timeout) and is stopped once it has
            self._starting.cancel()
        if self._monitor is not None and self._monitor is not asyncio.current_task():
            self._monitor.cancel()
        self.events.runtime_detached(self)
        self.nb.abandon_all(f"The runtime was disconnected: {reason}")
        await self._teardown()
        self.events.runtime_ended(self)
        if self.db is not None:  # a database round trip: off the loop everyone shares
            await asyncio.to_thread(self.db.end_runtime, self.runtime_id, reason)
        self.nb.broadcast({"type": "runtime", "status": "disconnected", "runtime": None,
                           "message": reason})

    async def detach(self) -> None:
        """The control plane is stopping: let go of the runtime but leave it running."""
        if self._monitor is not None:
            self._monitor.cancel()
        if self._state_writer is not None:
            await self._state_writer  # the queue on record is the one a new server resumes
        await self._close_channel()

    async def _close_channel(self) -> None:
        if self._channel is not None:
            channel, self._channel = self._channel, None
            await channel.close()

    async def _teardown(self) -> None:
        await self._close_channel()
        if self.handle is not None:
            with contextlib.suppress(Exception):
                await self.backend.stop(self.handle)

    # watching

    heartbeat_timeout = 30.0
    """Seconds without a heartbeat after which the notebook hears its kernel may be hung."""

    def _check_heartbeat(self, silent: bool) -> None:
        """Tell the notebook once when the kernel stops answering, and once when it is back."""
        channel = self._channel
        if channel is None:
            return
        quiet = channel.heartbeat_silence()
        if quiet > self.heartbeat_timeout and not silent:
            log.warning("runtime %s: no heartbeat for %.0f s", self.runtime_id, quiet)
            self.nb.broadcast({"type": "notice", "level": "error", "code": "kernel_unresponsive",
                               "message": f"The kernel has not answered for {quiet:.0f} seconds: "
                               "its process is stopped or frozen. Interrupt it, or restart it "
                               "(Runtime > Restart) if that does not help."})
        elif quiet <= self.heartbeat_timeout and silent:
            self.nb.notice("The kernel answers again.", level="info")

    async def _watch(self) -> None:
        next_disk = 0.0
        silent = False
        while True:
            await asyncio.sleep(POLL_SECONDS)
            if self.status != "connected" or self.handle is None:
                continue
            state = await self.backend.poll(self.handle)
            if isinstance(state, Exited):
                await self._kernel_died(state)
                if self._ended:
                    return
                continue
            if state.ends_at is not None and await self._machine_goes(state.ends_at):
                return
            self._check_heartbeat(silent)
            if self._channel is not None:
                silent = self._channel.heartbeat_silence() > self.heartbeat_timeout
            now = time.monotonic()
            if now >= next_disk:
                next_disk = now + self.disk_check_seconds
                try:
                    self.last_usage = await self.backend.usage(self.handle)
                except Exception:
                    log.warning("usage of %s unavailable", self.runtime_id, exc_info=True)
                    continue
                if self.devices:
                    await self._accelerator_usage()
                if self.last_usage.disk_bytes > self.disk_limit:
                    await self.shutdown(
                        f"Its instance space used {format_size(self.last_usage.disk_bytes)}, "
                        f"over the limit of {format_size(self.disk_limit)}. Files in /content were "
                        "deleted; your drive is kept. Keep large data in smaller pieces or on "
                        "your drive, or ask your administrator for a larger disk limit.")
                    return
                self._announce()

    async def _accelerator_usage(self) -> None:
        try:
            self.accelerator_usage = await asyncio.to_thread(
                nvml.utilization, [d.id for d in self.devices])
        except Exception:
            log.warning("accelerator usage of %s unavailable", self.runtime_id, exc_info=True)
            return
        if any(u.gpu_percent > 0 for u in self.accelerator_usage.values()):
            self.nb.touch()  # a busy GPU is activity: only 0% with no cell running is idle

    async def _machine_goes(self, ends_at: float) -> bool:
        """The machine under the runtime goes at ``ends_at`` (a drained cluster node): tell
        the person and the kernel's code once (``on_preempt`` checkpoints now), and stop the
        runtime when the time comes. True once it is stopped."""
        if ends_at == float("inf"):
            return False  # drained with no deadline: it runs on, and nothing new comes there
        if "machine_preempted" not in self.warned_at:
            self.warned_at["machine_preempted"] = time.time()
            wait = max(0, round(ends_at - time.time()))
            notice = {"code": "machine_preempted", "at": ends_at,
                      "message": f"The machine this runtime runs on is being taken back: the "
                                 f"runtime stops in {wait} s. Save what you need to your "
                                 "drive; connect again afterwards for a runtime elsewhere."}
            self.nb.broadcast({"type": "notice", "level": "warning", **notice})
            try:
                assert self.handle is not None
                await self.backend.notify(self.handle, notice)
            except Exception:
                log.warning("no preemption notice for %s", self.runtime_id, exc_info=True)
        if time.time() < ends_at:
            return False
        await self.shutdown("The machine this runtime ran on was taken back (drained), so the "
                            "runtime stopped. Your drive, with any checkpoint written there, "
                            "is kept; connect again for a runtime on another machine.")
        return True

    async def _kernel_died(self, state: Exited) -> None:
        if state.reason in ("lost", "preempted"):  # the machine is gone: nothing to restart
            log.info("runtime %s: %s", self.runtime_id, state.detail)
            self.nb.notice(state.detail, level="error")
            await self.shutdown(state.detail)
            return
        if state.reason == "oom":
            message = state.detail
        else:
            message = (f"The runtime's kernel exited unexpectedly ({state.detail}) "
                       "and was restarted.")
        log.info("runtime %s: %s", self.runtime_id, message)
        self.nb.notice(message, level="error")
        await self.restart(message, status="error")


def link_of(nb: OpenNotebook) -> RuntimeLink | None:
    """The notebook's runtime as the control layer holds it: the notebook itself knows it only
    as an :class:`~dikte.notebooks.runtime.AttachedRuntime`, and only the control layer
    attaches one, always a :class:`RuntimeLink`."""
    runtime = nb.runtime
    assert runtime is None or isinstance(runtime, RuntimeLink)
    return runtime
