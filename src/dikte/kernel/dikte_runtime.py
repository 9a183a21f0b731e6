"""Helpers for code that runs in a Dikte runtime, importable there as ``dikte_runtime``.

Standard library only; this module never imports the server.

Before Dikte stops a runtime for a time or quota limit (idle timeout, maximum lifetime,
accelerator hours), it warns the notebook's viewers and writes a *preemption notice* the code in
the runtime can act on, for example to save a checkpoint::

    import dikte_runtime

    def save(notice):
        print("stopping in", round(notice["at"] - time.time()), "s:", notice["message"])
        torch.save(model.state_dict(), "/content/drive/MyDrive/ckpt.pt")

    dikte_runtime.on_preemption(save)

``on_preemption`` calls the function once per notice, from a background thread, within about a
second of the notice; ``preemption_notice()`` returns the current notice (or None) for code that
prefers to check between steps of a training loop.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

NOTICE_FILE = os.environ.get("DIKTE_NOTICE_FILE", "/run/dikte/notice.json")

Notice = dict[str, Any]


def preemption_notice() -> Notice | None:
    """The current notice: {"code", "message", "at" (unix time of the stop)}, or None."""
    try:
        with open(NOTICE_FILE) as f:
            notice = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(notice, dict) or notice.get("at", 0) < time.time() - 5:
        return None  # a stale notice from an earlier warning that was answered
    return notice


def on_preemption(callback: Callable[[Notice], None], poll_seconds: float = 1.0) -> None:
    """Call ``callback(notice)`` once for each new preemption notice, from a daemon thread."""

    def watch() -> None:
        seen: tuple[Any, Any] | None = None
        while True:
            notice = preemption_notice()
            key = None if notice is None else (notice.get("code"), notice.get("at"))
            if notice is not None and key != seen:
                seen = key
                try:
                    callback(notice)
                except Exception as exc:  # the watcher must outlive a failing callback
                    print(f"dikte_runtime: preemption callback failed: {exc!r}")
            time.sleep(poll_seconds)

    threading.Thread(target=watch, name="dikte-preemption", daemon=True).start()
