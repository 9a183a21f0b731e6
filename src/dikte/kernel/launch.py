"""How a runtime's kernel starts: ``python .../dikte/kernel/launch.py -f kernel.json --ext=...``.

It is ipykernel's own kernel application with three changes:

- The iopub socket may queue :data:`IOPUB_QUEUE_MESSAGES` messages for the server instead of
  ZeroMQ's default of 1,000. A PUB socket whose queue is full drops what comes next without a
  word, so a cell printing fast while the server's machine was busy lost a run of lines in the
  middle of its output. The queue is set before the socket binds, so it holds from the server's
  first connection.
- The garbage collector rests while the kernel starts, and what start-up made (hundreds of
  thousands of objects, which live as long as the kernel) is then set aside from it
  (``gc.freeze``): collecting them again and again took about a tenth of a start, and later
  collections would walk them each time.
- ipykernel's debugger is not loaded: importing debugpy took a tenth of a start, and no Dikte
  front end speaks the debug protocol. ``import debugpy`` in a cell works as ever.

It runs by its path, not as a module, so that a runtime whose ``PYTHONPATH`` leaves Dikte out
still starts (without Dikte's extension, as IPython then reports on the kernel's log).
"""

from __future__ import annotations

import gc
import os
import sys

if __name__ == "__main__":
    gc.disable()
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]  # this folder's modules (errors, preempt...) must not shadow anything
    if "debugpy" not in sys.modules:
        sys.modules["debugpy"] = None  # type: ignore[assignment]  # ipykernel: no debugger

from typing import Any

import zmq
from ipykernel.kernelapp import IPKernelApp

IOPUB_QUEUE_MESSAGES = 100_000
"""The same depth the server reads iopub with (``dikte.execution.kernel``): messages of a cell
that prints fast are small, some tens of MB at most, and they count against the runtime's own
memory limit."""


class RuntimeKernelApp(IPKernelApp):
    """ipykernel's application, with a deep iopub queue, started without the collector."""

    def init_iopub(self, context: Any) -> None:
        # a default of the context: it holds for the sockets made from here on, iopub first
        context.setsockopt(zmq.SNDHWM, IOPUB_QUEUE_MESSAGES)
        super().init_iopub(context)  # type: ignore[no-untyped-call]

    def initialize(self, argv: Any = None) -> None:
        try:
            super().initialize(argv)  # type: ignore[no-untyped-call]
        finally:
            if sys.modules.get("debugpy", False) is None:
                del sys.modules["debugpy"]  # the kernel chose; a cell may import it now
            gc.freeze()
            gc.enable()


if __name__ == "__main__":
    RuntimeKernelApp.launch_instance()
