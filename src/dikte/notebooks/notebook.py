"""One open notebook: the server's copy of the document, its viewers, and its execution queue.

The server owns the document. Cells run in click order, one at a time, whether or not anyone is
watching; every change is broadcast to the viewers as a small delta and the notebook is saved to the
drive after each cell and at most every ``save_interval_seconds`` while one runs.

Output deltas are gathered for ``output_coalesce_seconds`` and sent merged (see
dikte.execution.coalesce), so a cell printing fast sends a few messages, not one per line; the
document itself takes every message at once. Whatever pending output there is goes out before any
other message to the viewers (a cell's state, an edit, a snapshot), so the order they see holds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from nbformat import NotebookNode

from dikte.drive import Drive
from dikte.errors import Conflict, DikteError
from dikte.execution.coalesce import PendingOutputs
from dikte.execution.outputs import DisplayRegistry, OutputChange, OutputLimits, OutputRecorder
from dikte.notebooks.document import apply_op, cell_index, source_hash
from dikte.notebooks.journal import EditJournal
from dikte.notebooks.runtime import AttachedRuntime
from dikte.notebooks.snapshot import freeze
from dikte.notebooks.viewers import Audience, Viewer
from dikte.notebooks.widgets import CONTROL_TARGET, WidgetStore
from dikte.schemas.rest import EditOp

log = logging.getLogger(__name__)

OUTPUT_TYPES = {"stream", "display_data", "update_display_data", "execute_result", "error",
                "clear_output"}
COMM_TYPES = {"comm_open", "comm_msg", "comm_close"}


class OpenNotebook:
    def __init__(self, *, person_id: int, path: str, drive: Drive, doc: NotebookNode,
                 limits: OutputLimits, save_interval: float, autosave: bool = True,
                 journal: EditJournal | None = None, coalesce: float = 0.0) -> None:
        self.person_id = person_id
        self.path = path
        self.drive = drive
        self.doc = doc
        self.limits = limits
        self.save_interval = save_interval
        self.autosave = autosave
        self.audience = Audience()
        self.displays = DisplayRegistry()
        self.widgets = WidgetStore(limits, doc.get("metadata", {}).get("widgets"))
        """Jupyter widgets: their state, kept here and saved in the notebook's metadata."""
        self._widget_pending: dict[str, dict[str, Any]] = {}
        """Output widgets' captured output waiting to go to the viewers, by comm id."""
        self.runtime: AttachedRuntime | None = None
        self.queue: deque[str] = deque()
        self.running: str | None = None
        self.running_msg: str | None = None
        self.running_started = False
        """The kernel said it began the running cell (its execute_input came); an interrupt
        before that would be lost (ipykernel ignores SIGINT between cells)."""
        self.interrupt_when_started = False
        self._recently_ended: dict[str, str] = {}
        """msg_id -> cell id of the last cells that ended, for their execute_reply."""
        self.recorder: OutputRecorder | None = None
        self.last_status: dict[str, str] = {}
        self.pending_input: dict[str, Any] | None = None
        self.side_runs: dict[str, Callable[[dict[str, Any]], None]] = {}
        """Kernel requests outside the queue (a JavaScript callback): msg_id -> the handler of
        their iopub messages (see dikte.bridge.callbacks)."""
        self.idle = asyncio.Event()
        self.idle.set()
        self.last_activity = time.time()
        """The later of the last interaction and the end of the last cell run (idle timeout)."""
        self.last_viewer_left_at: float | None = None
        self.pinned = 0
        """Operations under way that need this object to stay the open notebook (a connect
        measuring before its runtime exists): it is not released meanwhile."""
        self._run_error = False
        self._dirty = False
        self._last_save = 0.0
        self._save_handle: asyncio.TimerHandle | None = None
        self._save_lock = asyncio.Lock()
        self.journal = journal
        """Edits are on disk here before they are echoed (see dikte.notebooks.journal)."""
        self._held: list[tuple[dict[str, Any], list[Viewer]]] | None = None
        """Messages to viewers waiting for an edit to be on disk, in order, each with the
        viewers it is for (one who joins meanwhile has it in its snapshot already)."""
        self._hold_until = 0
        self._releaser: asyncio.Task[None] | None = None
        self.save_error: DikteError | None = None
        """Why the last save failed (None: it worked); the changes stay here until one works."""
        self.coalesce = coalesce
        """Seconds output deltas are gathered before they are sent (0: at once)."""
        self._pending = PendingOutputs()
        self._flush_handle: asyncio.TimerHandle | None = None

    # viewers and snapshots

    def touch(self) -> None:
        """Someone interacted with the notebook: the idle clock starts again."""
        self.last_activity = time.time()

    def leave(self, viewer: Viewer) -> None:
        self.audience.leave(viewer)
        if not len(self.audience):
            self.last_viewer_left_at = time.time()

    def join(self, credential: str = "") -> Viewer:
        self.last_viewer_left_at = None
        self.flush_outputs()  # the snapshot holds them: the newcomer must not get them again
        viewer = self.audience.join(credential)
        viewer.send({"type": "snapshot", **self.view()})
        return viewer

    def view(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "notebook": freeze(self.doc),
            "cells": {c["id"]: self.cell_state(c["id"]) for c in self.doc.cells},
            "runtime": self.runtime.info() if self.runtime else None,
            "pending_input": self.pending_input,
            "widgets": self.widgets.snapshot(),
        }

    def cell_state(self, cell_id: str) -> dict[str, Any]:
        if cell_id == self.running:
            state, position = "running", None
        elif cell_id in self.queue:
            state, position = "queued", list(self.queue).index(cell_id) + 1
        else:
            state, position = "idle", None
        return {"state": state, "position": position, "last_status": self.last_status.get(cell_id)}

    def resync(self, viewer: Viewer) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A viewer that fell behind: the snapshot to send it now, then the notices to send
        after it. Nothing it holds is sent to it again afterwards."""
        self.flush_outputs()  # it is still lagging: these are dropped for it
        if self._held is not None:
            for message, viewers in self._held:
                if viewer in viewers and message.get("type") != "notice":
                    viewers.remove(viewer)
        notices = viewer.resynced()
        return {"type": "snapshot", **self.view()}, notices

    def broadcast(self, message: dict[str, Any]) -> None:
        """Send to every viewer, after any output deltas still gathered."""
        self.flush_outputs()
        self._send(message)

    def send_to(self, viewer: Viewer, message: dict[str, Any]) -> None:
        """Send to one viewer, in order with what every viewer is sent: after the output deltas
        gathered so far and any messages held for an edit (code in a runtime asking the tab for
        something may rely on an output it displayed just before)."""
        self.flush_outputs()
        if self._held is not None:
            self._held.append((message, [viewer]))
        else:
            viewer.send(message)

    def flush_outputs(self) -> None:
        """Send the output deltas gathered so far (merged) now."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._pending:
            for change in self._pending.take():
                self._send({"type": "output", "cell_id": change.cell_id,
                            "change": change.to_dict()})
        if self._widget_pending:
            pending, self._widget_pending = self._widget_pending, {}
            for message in pending.values():
                self._send(message)

    def emit_outputs(self, changes: list[OutputChange]) -> None:
        """Output deltas for the viewers: sent within ``coalesce`` seconds, merged."""
        if not changes:
            return
        if self.coalesce <= 0:
            for change in changes:
                self.broadcast({"type": "output", "cell_id": change.cell_id,
                                "change": change.to_dict()})
            return
        for change in changes:
            self._pending.add(change)
        self._flush_later()

    def _flush_later(self) -> None:
        if self.coalesce <= 0:
            self.flush_outputs()
            return
        if self._flush_handle is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop (a synchronous caller): nothing to wait with
                self.flush_outputs()
                return
            self._flush_handle = loop.call_later(self.coalesce, self.flush_outputs)

    def _send(self, message: dict[str, Any]) -> None:
        if self._held is not None:
            self._held.append((message, self.audience.members()))
        else:
            self.audience.broadcast(message)

    def _hold_for(self, seq: int) -> None:
        """Viewers hear nothing more until edit batch ``seq`` is on disk: its echo tells the
        editor it was kept, and what follows it must not overtake it."""
        self._hold_until = seq
        if self._held is None:
            self._held = []
            # kept: the loop holds only a weak reference to a task
            self._releaser = asyncio.get_running_loop().create_task(self._release_held())

    async def _release_held(self) -> None:
        journal = self.journal
        assert journal is not None
        while True:  # edits may come meanwhile: hold until the latest is on disk
            seq = self._hold_until
            await journal.durable(seq)
            if seq == self._hold_until:
                break
        held, self._held = self._held or [], None
        for message, viewers in held:
            for viewer in viewers:
                if viewer in self.audience:
                    viewer.send(message)
        if journal.failed is not None:
            self.notice(f"Your latest edits could not be recorded on the server's disk "
                        f"({journal.failed}); they are kept here and saved once there is "
                        "space again. Free some space or tell your administrator.",
                        level="error")

    def notice(self, message: str, level: str = "warning") -> None:
        self.broadcast({"type": "notice", "level": level, "message": message})

    def _announce_states(self, cell_ids: list[str]) -> None:
        for cid in cell_ids:
            self.broadcast({"type": "cell_state", "cell_id": cid, **self.cell_state(cid)})

    # edits

    def edit(self, ops: list[EditOp]) -> list[str]:
        """Apply a batch of edits, all or none: if one is refused, the notebook is left as it
        was. The echo to the viewers waits until the batch is in the journal."""
        self.touch()
        applied = []
        cells = list(self.doc.cells)
        touched: dict[int, tuple[NotebookNode, dict[str, Any], list[Any] | None]] = {}
        try:
            for op in ops:
                if op.op == "delete" and op.cell_id in (self.running, *self.queue):
                    raise Conflict("That cell is queued or running; cancel or interrupt it "
                                   "first.", code="cell_busy")
                if op.op != "insert" and op.cell_id is not None:
                    try:
                        cell = self.doc.cells[cell_index(self.doc, op.cell_id)]
                    except DikteError:
                        cell = None
                    if cell is not None and id(cell) not in touched:
                        outputs = cell.get("outputs")
                        touched[id(cell)] = (cell, dict(cell), list(outputs)
                                             if isinstance(outputs, list) else None)
                applied.append(apply_op(self.doc, op))
        except BaseException:
            self.doc.cells[:] = cells  # the list itself: a recorder may hold its cells
            for cell, fields, outputs in touched.values():
                cell.clear()
                dict.update(cell, fields)
                if outputs is not None:
                    cell["outputs"][:] = outputs  # in place: a running cell's recorder
            raise
        for op in ops:
            if op.op in ("delete", "clear_outputs") and op.cell_id:
                self.displays.forget_cell(op.cell_id)
        if self.journal is not None:
            self._hold_for(self.journal.append(applied))
        self.broadcast({"type": "edited", "ops": applied})
        self.mark_dirty(soon=True)
        return [a["cell_id"] for a in applied if a["op"] == "insert"]

    # the queue

    def enqueue(self, cell_ids: list[str], hashes: dict[str, str] | None = None) -> list[str]:
        hashes = hashes or {}
        self.touch()
        queued = []
        for cid in cell_ids:
            cell = self.doc.cells[cell_index(self.doc, cid)]
            if cid in hashes and hashes[cid] != source_hash(cell.source):
                raise Conflict(
                    "This cell changed on the server since you last saw it (another viewer "
                    "edited it); reload the notebook and run it again.", code="stale_source")
        for cid in cell_ids:
            cell = self.doc.cells[cell_index(self.doc, cid)]
            if cell.cell_type != "code" or cid == self.running or cid in self.queue:
                continue
            self.queue.append(cid)
            queued.append(cid)
        if queued:
            self.idle.clear()
            self._announce_states(queued)
            self.persist_exec_state()
            self.pump()
        return queued

    def cancel(self, cell_ids: list[str] | None = None) -> list[str]:
        targets = list(self.queue) if cell_ids is None else [c for c in cell_ids if c in self.queue]
        for cid in targets:
            self.queue.remove(cid)
            self.last_status[cid] = "cancelled"
        if targets:
            self._announce_states(targets + list(self.queue))
            self.persist_exec_state()
            self._check_idle()
        return targets

    def pump(self) -> None:
        """Start the head of the queue when the runtime is ready and nothing runs."""
        rt = self.runtime
        if self.running is not None or not self.queue or rt is None or not rt.ready:
            return
        cid = self.queue.popleft()
        cell = self.doc.cells[cell_index(self.doc, cid)]
        self.displays.forget_cell(cid)
        cell["outputs"] = []
        cell["execution_count"] = None
        self.recorder = OutputRecorder(cid, cell["outputs"], self.limits, self.displays)
        self.running = cid
        self.running_started = self.interrupt_when_started = False
        self._run_error = False
        cell.setdefault("metadata", {})["execution"] = {"started": _iso(time.time())}
        self.broadcast({"type": "output", "cell_id": cid, "change": {"kind": "clear"}})
        channel = rt.channel
        msg_id, send = channel.prepare_execute(cell.source)
        self.running_msg = msg_id

        def send_when_recorded() -> None:
            # at most once: a server killed before this point finds the cell recorded as
            # running and never sends it again; one killed after it, the same
            if self.running_msg == msg_id and self.runtime is rt and rt.ready \
                    and rt.channel is channel:
                send()

        self._announce_states([cid, *self.queue])
        self.persist_exec_state(after=send_when_recorded)
        self.mark_dirty()

    def resume_running(self, cell_id: str, msg_id: str) -> None:
        """After a control-plane restart: this cell was running when the old server stopped."""
        cell = self.doc.cells[cell_index(self.doc, cell_id)]
        self.running, self.running_msg = cell_id, msg_id
        self.running_started, self.interrupt_when_started = True, False
        self.idle.clear()
        self.recorder = OutputRecorder(cell_id, cell["outputs"], self.limits, self.displays)
        self.emit_outputs(self.recorder.note(
            "[The server restarted while this cell was starting or running. It was not run "
            "again; output it printed in the meantime may be missing.]\n"))
        self.mark_dirty()

    def finish_running(self, status: str | None = None, note: str | None = None) -> None:
        cid = self.running
        if cid is None:
            return
        if note and self.recorder is not None:
            self.emit_outputs(self.recorder.note(note))
        final = status or ("error" if self._run_error else "ok")
        self.touch()  # the end of a cell run counts as activity
        self.last_status[cid] = final
        try:
            cell = self.doc.cells[cell_index(self.doc, cid)]
            cell.setdefault("metadata", {}).setdefault("execution", {})["finished"] = _iso(
                time.time())
        except DikteError:
            pass  # the cell was deleted meanwhile
        if self.running_msg is not None:
            self._recently_ended[self.running_msg] = cid
            while len(self._recently_ended) > 16:
                self._recently_ended.pop(next(iter(self._recently_ended)))
        self.running = None
        self.running_msg = None
        self.recorder = None
        self.pending_input = None
        cancelled = []
        if final == "error" and self.queue:
            # like Jupyter's stop_on_error and Colab: an error cancels the cells queued after it
            cancelled = list(self.queue)
            self.queue.clear()
            for c in cancelled:
                self.last_status[c] = "cancelled"
        self._announce_states([cid, *cancelled])
        self.persist_exec_state()
        self._dirty = True
        self.save_soon(now=True)
        self.pump()
        self._check_idle()

    def abandon_all(self, note: str, status: str = "interrupted") -> None:
        """The kernel went away: end the running cell with a note and cancel the queue; its
        widgets keep their last state, no longer connected."""
        self.cancel()
        self.finish_running(status, note)
        self.kernel_gone()

    def kernel_gone(self) -> None:
        if any(m.live for m in self.widgets.models.values()):
            self.widgets.kernel_gone()
            self.broadcast({"type": "widgets_gone"})

    def _check_idle(self) -> None:
        if self.running is None and not self.queue:
            self.idle.set()

    def persist_exec_state(self, after: Callable[[], None] | None = None) -> None:
        """Record the queue (see RuntimeLink.persist_exec_state); ``after`` runs once it is."""
        if self.runtime is not None:
            self.runtime.persist_exec_state(self.exec_state(), after)
        elif after is not None:
            after()

    def exec_state(self) -> dict[str, Any]:
        running = {"cell_id": self.running, "msg_id": self.running_msg} if self.running else None
        return {"running": running, "queued": list(self.queue)}

    # kernel messages

    def on_iopub(self, msg: dict[str, Any]) -> None:
        mtype, parent = msg["msg_type"], msg["parent_header"].get("msg_id", "")
        if mtype in COMM_TYPES:
            self._on_comm(msg)
            return
        if mtype in OUTPUT_TYPES and parent in self.widgets.capturing:
            update = self.widgets.capture(parent, mtype, msg["content"])
            if update:
                self._widget_pending[update["comm_id"]] = update
                self._flush_later()
                self.mark_dirty()
            return
        if mtype == "status" and parent in self.widgets.relayed \
                and msg["content"].get("execution_state") == "idle":
            viewer, client_id = self.widgets.relayed[parent]
            if viewer in self.audience:
                self.send_to(viewer, {"type": "comm_idle", "msg_id": client_id})
            return
        side = self.side_runs.get(parent)
        if side is not None:
            side(msg)
            return
        if msg["parent_header"].get("msg_id") != self.running_msg or self.running is None:
            return
        mtype, content = msg["msg_type"], msg["content"]
        if mtype in OUTPUT_TYPES and self.recorder is not None:
            if mtype == "error":
                self._run_error = True
            self.emit_outputs(self.recorder.apply(mtype, content))
            self.mark_dirty()
        elif mtype == "execute_input":
            self.running_started = True
            if self.interrupt_when_started and self.runtime is not None:
                self.interrupt_when_started = False
                self.runtime.interrupt_soon()
            cell = self.doc.cells[cell_index(self.doc, self.running)]
            cell["execution_count"] = content.get("execution_count")
            self.broadcast({"type": "execution_count", "cell_id": self.running,
                            "count": cell["execution_count"]})
        elif mtype == "status" and content.get("execution_state") == "idle":
            self.finish_running()

    def _on_comm(self, msg: dict[str, Any]) -> None:
        message = self.widgets.on_kernel(msg["msg_type"], msg["content"],
                                         msg.get("buffers") or [],
                                         msg["parent_header"].get("msg_id", ""))
        if message is None:
            return
        if message["type"] == "widgets_restored":
            if self.runtime is not None and self.runtime.ready:
                self.runtime.channel.send("shell", "comm_close",
                                          {"comm_id": message.pop("control"), "data": {}})
            self.broadcast(message)
            return
        comm_id = message["comm_id"]
        if comm_id in self._widget_pending:  # captured output first, then what follows it
            self._send(self._widget_pending.pop(comm_id))
        self.broadcast(message)
        self.mark_dirty()

    def request_widget_states(self) -> None:
        """Ask the kernel for every widget's state (ipywidgets' control comm); its answer makes
        them live here again (see WidgetStore.on_kernel)."""
        if self.runtime is None or not self.runtime.ready:
            return
        channel = self.runtime.channel
        comm_id = self.widgets.control_opened()
        channel.send("shell", "comm_open", {"comm_id": comm_id, "data": {},
                                            "target_name": CONTROL_TARGET},
                     metadata={"version": "1.0.0"})  # the control protocol's version
        channel.comm_msg(comm_id, {"method": "request_states"}, [])

    def comm_from_viewer(self, viewer: Viewer, comm_id: str, data: dict[str, Any],
                         buffers: list[str], client_id: str) -> None:
        """A tab's widget changed (a slider moved, a button clicked): to the kernel, which
        echoes the state it accepted to every viewer."""
        if self.runtime is None or not self.runtime.ready:
            raise Conflict("The runtime is not connected, so widgets do nothing; connect and "
                           "run the cell again.", code="not_connected")
        raw = self.widgets.from_viewer(comm_id, data, buffers)
        msg_id = self.runtime.channel.comm_msg(comm_id, data, raw)
        self.widgets.remember(msg_id, viewer, client_id)
        self.touch()
        self.mark_dirty()

    def on_shell(self, msg: dict[str, Any]) -> None:
        if msg["msg_type"] != "execute_reply":
            return
        parent = msg["parent_header"].get("msg_id")
        if parent == self.running_msg and self.running is not None:
            cell_id = self.running
            if msg["content"].get("status") == "error":
                self._run_error = True
        else:
            # the reply comes on the shell socket, the cell's idle status on iopub: the idle
            # may be read first, and the cell has ended by the time its reply is read
            ended = self._recently_ended.get(parent or "")
            if ended is None:
                return
            cell_id = ended
        for payload in msg["content"].get("payload") or []:
            # `name?` and `%pdoc`: a help page, shown beside the notebook (as Colab and Jupyter
            # do), not kept in the cell's outputs
            if isinstance(payload, dict) and payload.get("source") == "page":
                data = payload.get("data")
                if isinstance(data, dict) and data:
                    self.broadcast({"type": "help", "cell_id": cell_id, "data": data})

    def on_stdin(self, msg: dict[str, Any]) -> None:
        if msg["msg_type"] != "input_request" or self.running is None:
            return
        self.pending_input = {"cell_id": self.running, "prompt": msg["content"].get("prompt", ""),
                              "password": bool(msg["content"].get("password"))}
        self.broadcast({"type": "input_request", **self.pending_input})

    def input_reply(self, value: str) -> None:
        if self.pending_input is None or self.runtime is None:
            raise Conflict("No cell is waiting for input.", code="no_input_pending")
        self.runtime.channel.input_reply(value)
        self.touch()
        asked, self.pending_input = self.pending_input, None
        self.broadcast({"type": "input_done"})
        if self.recorder is not None and asked["cell_id"] == self.running:
            # the prompt and the answer stay in the output, as Jupyter and Colab show them
            # ("Your name? Ada"); a password's answer is never written anywhere
            echo = asked["prompt"] + ("" if asked["password"] else value) + "\n"
            self.emit_outputs(self.recorder.apply("stream", {"name": "stdout", "text": echo}))
            self.mark_dirty()

    # saving

    def mark_dirty(self, soon: bool = False) -> None:
        self._dirty = True
        self.save_soon(now=False, soon=soon)

    def save_soon(self, now: bool = False, soon: bool = False) -> None:
        if not self.autosave:
            return
        if now:
            delay = 0.0
        else:
            due = self._last_save + (0.3 if soon else self.save_interval)
            delay = max(0.0, due - time.monotonic())
        if self._save_handle is not None:
            if not now:
                return
            self._save_handle.cancel()
        loop = asyncio.get_running_loop()
        self._save_handle = loop.call_later(delay, lambda: asyncio.ensure_future(self.save()))

    def widgets_into_metadata(self) -> None:
        """The widgets' state, as Jupyter saves it: what the outputs show, in metadata."""
        if not self.widgets.changed and not self.widgets.models:
            return
        state = self.widgets.saved_state(self.doc.cells)
        metadata = self.doc.setdefault("metadata", {})
        if state is None:
            metadata.pop("widgets", None)
        else:
            metadata["widgets"] = state

    @property
    def unsaved(self) -> bool:
        """Changes the drive does not have yet (a save is pending, or the last one failed)."""
        return self._dirty

    async def save(self) -> None:
        """Write the document to the drive (atomically) if it changed."""
        self._save_handle = None
        async with self._save_lock:  # a save under way ends first: then the drive has it all
            if not self._dirty:
                return
            self._dirty = False
            self._last_save = time.monotonic()
            self.widgets_into_metadata()
            snapshot = freeze(self.doc)
            upto = self.journal.seq if self.journal is not None else 0
            try:
                await asyncio.to_thread(self.drive.write_notebook, self.path, snapshot)
                self.save_error = None
            except DikteError as exc:
                self.save_error = exc
                self._dirty = True
                log.warning("saving %s failed: %s", self.path, exc.log_message)
                self.notice(f"Saving failed: {exc.message}", level="error")
                return
            if self.journal is not None:
                await self.journal.saved(upto)


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"
