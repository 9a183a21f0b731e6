"""Preemption notices: the file a runtime's code reads (``dikte_runtime.on_preemption``) to
learn that Dikte will stop it soon. It lives in the runtime's kernel socket directory, which only
the runtime and the control plane can reach."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dikte.runtimes.base import RuntimeHandle


def notice_path(handle: RuntimeHandle) -> Path:
    # the control plane's side of the kernel sockets: "<sock dir>/kernel"
    return Path(handle.connection["ip"]).parent / "notice.json"


def write_notice(handle: RuntimeHandle, notice: dict[str, Any]) -> None:
    """Write the notice atomically (a reader never sees half of it)."""
    path = notice_path(handle)
    tmp = path.with_name(".notice.json.tmp")
    tmp.write_text(json.dumps(notice))
    os.chmod(tmp, 0o644)
    tmp.replace(path)
