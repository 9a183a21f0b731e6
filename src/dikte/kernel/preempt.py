"""Preemption notices, as the code in a runtime sees them.

Before Dikte stops a runtime for a time or quota limit (maximum lifetime, idle timeout,
accelerator hours, drive quota) or an administrator's stop, it warns the notebook's viewers and
writes a *notice* into the runtime (the file ``$DIKTE_NOTICE_FILE``). ``on_preempt(callback)``
calls ``callback(notice)`` from a background thread within about half a second of it;
``preemption_notice()`` returns the current notice (or None) for loops that check between steps.

The callback runs while the rest of the program keeps running. A training loop that wants a
consistent checkpoint sets a flag in the callback and saves at its next step boundary::

    import threading
    from dikte.kernel import checkpoint, on_preempt

    stop = threading.Event()
    on_preempt(lambda notice: stop.set())
    for step in range(start, steps):
        train_one_step()
        if stop.is_set():
            checkpoint.save(CKPT, model=model, optimizer=opt, step=step + 1)
            break
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEFAULT_NOTICE_FILE = "/run/dikte/notice.json"
STALE_AFTER_S = 5.0
"""A notice whose stop time passed more than this long ago is an old one that was answered."""


@dataclass(frozen=True)
class Notice:
    """Dikte's warning that it will stop this runtime at ``at`` (unix time)."""

    code: str
    """Why: ``max_lifetime``, ``idle_timeout``, ``accelerator_quota``, ``drive_quota``, ..."""
    message: str
    """The sentence the notebook's viewers see."""
    at: float

    def seconds_left(self) -> float:
        return max(0.0, self.at - time.time())

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "at": self.at}


def notice_file() -> str:
    return os.environ.get("DIKTE_NOTICE_FILE", DEFAULT_NOTICE_FILE)


def preemption_notice() -> Notice | None:
    """The current notice, or None when no stop is coming."""
    try:
        with open(notice_file()) as f:
            raw = json.load(f)
        notice = Notice(code=str(raw["code"]), message=str(raw.get("message", "")),
                        at=float(raw["at"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if notice.at < time.time() - STALE_AFTER_S:
        return None
    return notice


Callback = Callable[[Notice], object]


class _Watcher:
    """One daemon thread per process that polls the notice file and calls each callback once
    per new notice (new to that callback: one registered after a notice still gets it)."""

    def __init__(self, poll_seconds: float) -> None:
        self.poll_seconds = poll_seconds
        self.registrations: list[list[Any]] = []  # [callback, (code, at) it last got]
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name="dikte-preemption", daemon=True)

    def add(self, callback: Callback) -> None:
        with self.lock:
            self.registrations.append([callback, None])

    def _run(self) -> None:
        while True:
            notice = preemption_notice()
            if notice is not None:
                key = (notice.code, notice.at)
                with self.lock:
                    due = [r for r in self.registrations if r[1] != key]
                    for r in due:
                        r[1] = key
                for callback, _ in due:
                    try:
                        callback(notice)
                    except Exception as exc:  # the watcher must outlive a failing callback
                        print(f"dikte.kernel: the preemption callback {callback!r} failed: "
                              f"{exc!r}", file=sys.stderr)
            time.sleep(self.poll_seconds)


_watcher: _Watcher | None = None
_watcher_lock = threading.Lock()


def on_preempt(callback: Callback) -> Callback:
    """Call ``callback(notice)`` once for each new preemption notice, from a background thread.

    Returns ``callback``, so it also works as a decorator. A notice that is already there when
    the callback is registered counts as new. Registrations last until the kernel restarts.
    """
    global _watcher
    with _watcher_lock:
        if _watcher is None:
            _watcher = _Watcher(poll_seconds=0.5)
            _watcher.thread.start()
        _watcher.add(callback)
    return callback
