"""Why a runtime's kernel ended, in words for people."""

from __future__ import annotations

import signal

from dikte.config import format_size
from dikte.runtimes.base import Exited


def exit_for(code: int | None, *, missing: bool, oom: bool, limit: int) -> Exited:
    """``code`` as ``Popen.returncode`` gives it (negative: killed by that signal); bwrap reports
    a sandboxed process killed by signal N as 128 + N."""
    if oom:
        return Exited(
            "oom", code,
            "Your runtime restarted after using all available RAM "
            f"(limit {format_size(limit)}).",
        )
    if missing:
        return Exited("missing", code, "The runtime is no longer running.")
    sig = -code if code is not None and code < 0 else code - 128 if code and code > 128 else None
    if sig is not None:
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return Exited("killed", code, f"The runtime's kernel was stopped by {name}.")
    return Exited("exited", code, f"The runtime's kernel exited (code {code}).")
