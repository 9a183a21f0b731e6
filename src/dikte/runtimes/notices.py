"""Preemption notices: the file a runtime's code reads (``dikte_runtime.on_preemption``) to
learn that Dikte will stop it soon. It lives in the runtime's kernel socket directory, which only
the runtime and the control plane can reach."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dikte.runtimes.base import RuntimeHandle
from dikte.runtimes.instance import write_in_folder


def notice_path(handle: RuntimeHandle) -> Path:
    # the control plane's side of the kernel sockets: "<sock dir>/kernel"
    return Path(handle.connection["ip"]).parent / "notice.json"


def write_notice(handle: RuntimeHandle, notice: dict[str, Any]) -> None:
    """Write the notice atomically (a reader never sees half of it). The folder's names are the
    runtime's to change, so nothing is written through a name it may have made a link."""
    path = notice_path(handle)
    write_in_folder(path.parent, path.name, json.dumps(notice).encode(), mode=0o644, replace=True)
