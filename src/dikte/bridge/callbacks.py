"""JavaScript calling Python: ``google.colab.kernel.invokeFunction(name, args, kwargs)``.

A cell's HTML or JavaScript output (in its sandboxed frame) calls a function the notebook
registered with ``google.colab.output.register_callback``. The tab sends ``invoke_function`` on the
notebook's WebSocket; the server asks the kernel, outside the cell queue, to run::

    code:             __import__("google.colab.output", ...)._invoke_function(call, name, args, kwargs);
    user_expressions: {"result": ..._take_result(call)}

The kernel runs it when it is free (after the running cell, as Colab does). What the function
prints or displays, and its traceback if it fails, goes into the output of the cell whose frame
called it; its return value comes back formatted as a MIME bundle (``{data, metadata}``), which
is what Colab's ``invokeFunction`` resolves to (``result.data['application/json']`` for an
``IPython.display.JSON``).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

from dikte.bridge.channel import RuntimeChannel
from dikte.control.runtime_link import link_of
from dikte.errors import Conflict, DikteError
from dikte.execution.outputs import OutputRecorder
from dikte.notebooks.document import cell_index
from dikte.notebooks.notebook import OUTPUT_TYPES, OpenNotebook
from dikte.notebooks.viewers import Viewer

_MODULE = "__import__('google.colab.output', fromlist=['_'])"


def _code(call_id: str, name: str, args: list[Any], kwargs: dict[str, Any]) -> tuple[str, str]:
    """The statement that calls the function and the expression that takes its result; every
    value is a Python string literal (repr), so nothing from the page becomes code."""
    call = (f"{_MODULE}._invoke_function({call_id!r}, {name!r}, {json.dumps(args)!r}, "
            f"{json.dumps(kwargs)!r});")
    return call, f"{_MODULE}._take_result({call_id!r})"


class CallbackRun:
    """Routes one callback's iopub messages into the output of the cell that called it."""

    def __init__(self, nb: OpenNotebook, channel: RuntimeChannel, cell_id: str) -> None:
        self.nb = nb
        self.channel = channel
        self.cell_id = cell_id
        cell = nb.doc.cells[cell_index(nb.doc, cell_id)]
        self.recorder = OutputRecorder(cell_id, cell.setdefault("outputs", []), nb.limits,
                                       nb.displays)
        self.msg_id = ""

    def __call__(self, msg: dict[str, Any]) -> None:
        mtype, content = msg["msg_type"], msg["content"]
        if mtype in OUTPUT_TYPES:
            self.nb.emit_outputs(self.recorder.apply(mtype, content))
            self.nb.mark_dirty()
        elif mtype == "status" and content.get("execution_state") == "idle":
            self.end()

    def end(self) -> None:
        self.nb.side_runs.pop(self.msg_id, None)
        self.channel.callback_cells.pop(self.msg_id, None)


async def invoke(nb: OpenNotebook, channel: RuntimeChannel, cell_id: str, name: str,
                 args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Run a registered callback in the kernel; return ``{data, metadata}`` of its result.

    Raises :class:`DikteError` with a sentence for the page when it cannot run or fails."""
    link = link_of(nb)
    if link is None or not link.ready:
        raise Conflict("The runtime is not connected, so the notebook's Python callbacks are "
                       "gone. Run the cell again.", code="not_connected")
    run = CallbackRun(nb, channel, cell_id)
    code, expression = _code(secrets.token_hex(8), name, args, kwargs)
    msg_id, reply = link.channel.begin_request("shell", "execute_request", {
        "code": code, "silent": False, "store_history": False,
        "user_expressions": {"result": expression},
        "allow_stdin": False, "stop_on_error": False,  # a failing callback cancels no cell
    })
    run.msg_id = msg_id
    nb.side_runs[msg_id] = run
    channel.callback_cells[msg_id] = cell_id
    nb.touch()
    try:
        msg = await reply
    except asyncio.CancelledError:
        run.end()
        if not reply.cancelled():
            raise
        raise Conflict("The runtime restarted or was disconnected before the callback "
                       "finished.", code="not_connected") from None
    content = msg["content"]
    if content.get("status") != "ok":
        run_error = f"{content.get('ename', 'Error')}: {content.get('evalue', '')}"
        raise DikteError(f"The Python callback {name!r} failed: {run_error}",
                         code="callback_failed", status=400)
    result = content.get("user_expressions", {}).get("result", {})
    if result.get("status") != "ok":
        raise DikteError(f"The Python callback {name!r} returned nothing readable: "
                         f"{result.get('ename', 'Error')}: {result.get('evalue', '')}",
                         code="callback_failed", status=400)
    return {"data": result.get("data", {}), "metadata": result.get("metadata", {})}


def answer_invoke(nb: OpenNotebook, channel: RuntimeChannel, viewer: Viewer, call_id: str,
                  cell_id: str, name: str, args: list[Any], kwargs: dict[str, Any]) -> None:
    """Run a callback in the background and send ``invoke_result`` to the tab that asked."""

    async def run() -> None:
        try:
            result = await invoke(nb, channel, cell_id, name, args, kwargs)
        except DikteError as exc:
            nb.send_to(viewer, {"type": "invoke_result", "call_id": call_id,
                                "error": exc.message})
            return
        nb.send_to(viewer, {"type": "invoke_result", "call_id": call_id, "result": result})

    task = asyncio.create_task(run(), name=f"callback-{name}")
    channel.tasks.add(task)
    task.add_done_callback(channel.tasks.discard)
