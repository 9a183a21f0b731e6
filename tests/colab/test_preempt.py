"""``dikte.kernel.on_preempt`` and ``preemption_notice`` in a real sandboxed runtime, fed by the
control plane's own notice writer; the old ``dikte_runtime`` names still work."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from dikte.runtimes.base import RuntimeHandle
from dikte.runtimes.notices import write_notice
from tests.colab.cells import run_cell
from tests.runtimes.runtime_helpers import kernel

Start = Callable[..., Awaitable[RuntimeHandle]]

SUBSCRIBE = """\
import threading, dikte.kernel, dikte_runtime
seen, old, done = [], [], threading.Event()
def note(notice):
    seen.append((notice.code, round(notice.seconds_left()) > 0))
    done.set()
def broken(notice):
    raise RuntimeError('a callback that fails')
dikte.kernel.on_preempt(broken)  # the others are called all the same
dikte_runtime.on_preemption(old.append)
dikte.kernel.on_preempt(note)  # called last: when it has run, so have the others
print(dikte.kernel.preemption_notice())
"""


async def test_callbacks_get_each_notice_once_from_a_background_thread(sandboxed: Start) -> None:
    handle = await sandboxed()
    async with kernel(handle) as k:
        assert (await run_cell(k, SUBSCRIBE)).ok() == "None\n"
        at = time.time() + 60
        write_notice(handle, {"code": "max_lifetime", "message": "Stopping soon.", "at": at})
        waited = await run_cell(k, "assert done.wait(30)\n"
                                   "print(seen, [n['code'] for n in old])\n"
                                   "n = dikte.kernel.preemption_notice()\n"
                                   "print(n.code, n.message, n.at)")
        # a callback registered after the notice still gets it; a new notice comes again
        late = await run_cell(k, "late = threading.Event()\n"
                                 "dikte.kernel.on_preempt(lambda n: late.set())\n"
                                 "print(late.wait(30))\ndone.clear()")
        write_notice(handle, {"code": "idle_timeout", "message": "Idle.", "at": at + 1})
        again = await run_cell(k, "assert done.wait(30)\nprint(seen[1])")
    assert waited.ok().splitlines() == ["[('max_lifetime', True)] ['max_lifetime']",
                                        f"max_lifetime Stopping soon. {at}"]
    assert late.ok() == "True\n"
    assert again.ok() == "('idle_timeout', True)\n"


async def test_a_notice_for_a_stop_long_past_is_not_current(sandboxed: Start) -> None:
    handle = await sandboxed()
    write_notice(handle, {"code": "max_lifetime", "message": "old", "at": time.time() - 60})
    async with kernel(handle) as k:
        out = (await run_cell(k, "import dikte.kernel, dikte_runtime\n"
                                 "print(dikte.kernel.preemption_notice(), "
                                 "dikte_runtime.preemption_notice())")).ok()
    assert out == "None None\n"
