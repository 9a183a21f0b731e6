"""The first name of Dikte's in-runtime helpers, kept working: ``import dikte_runtime``.

New code uses ``dikte.kernel`` (``on_preempt``, ``preemption_notice``, ``checkpoint``); this
module hands notices over as plain dicts ``{"code", "message", "at"}``, as it always did.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dikte.kernel import preempt

Notice = dict[str, Any]
NOTICE_FILE = preempt.notice_file()


def preemption_notice() -> Notice | None:
    """The current notice as a dict, or None."""
    notice = preempt.preemption_notice()
    return None if notice is None else notice.as_dict()


def on_preemption(callback: Callable[[Notice], None], poll_seconds: float = 1.0) -> None:
    """Call ``callback(notice_dict)`` once for each new preemption notice, from a background
    thread. ``poll_seconds`` is accepted for old callers; notices are checked twice a second."""
    preempt.on_preempt(lambda notice: callback(notice.as_dict()))
