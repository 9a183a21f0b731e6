"""Finding runtime backends, as JupyterHub finds spawners.

Backends are found by name in the entry-point group ``dikte.runtime_backends``: each entry is a
factory ``(settings) -> RuntimeBackend``. Dikte ships ``local``, ``ray`` and ``unsandboxed``
(pyproject.toml); another package adds a backend by declaring an entry point of its own, and an
administrator chooses it with ``runtime_backend``.

:func:`fill_in` gives a backend written before the contract had all of today's methods (one
that lacks ``open_terminal``, ``content``, ``content_root``, ``connect_port`` or
``shares_loopback``) ones that refuse with a sentence for people, so a missing piece is a clear
message, never an ``AttributeError`` deep in a request.
"""

from __future__ import annotations

import socket
from importlib.metadata import entry_points
from typing import Any, cast

from dikte.errors import DikteError, RuntimeUnavailable, SandboxUnavailable
from dikte.runtimes.base import RuntimeBackend, RuntimeHandle

GROUP = "dikte.runtime_backends"


def available() -> dict[str, Any]:
    """Installed backends: name -> entry point."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def make(name: str, settings: Any) -> RuntimeBackend:
    """The backend ``name`` made from ``settings``; an unknown name is refused with the names
    that are installed."""
    found = available().get(name)
    if found is None:
        names = ", ".join(sorted(available())) or "none"
        raise SandboxUnavailable(f"There is no runtime backend {name!r}; installed: {names}. "
                                 "Set runtime_backend to one of them.")
    return fill_in(found.load()(settings))


def fill_in(backend: Any) -> RuntimeBackend:
    """``backend``, with refusing stand-ins for the contract's methods it does not have."""
    name = getattr(backend, "name", type(backend).__name__)

    async def open_terminal(handle: RuntimeHandle, cols: int, rows: int) -> Any:
        raise RuntimeUnavailable(f"Runtimes of the {name} backend offer no terminal yet.",
                                 code="no_terminal")

    def content(handle: RuntimeHandle) -> Any:
        raise RuntimeUnavailable(f"The Files panel does not reach runtimes of the {name} "
                                 "backend yet; use your drive (drive/MyDrive) instead.",
                                 code="no_runtime_files")

    def content_root(handle: RuntimeHandle) -> str:
        return "/content"

    async def connect_port(handle: RuntimeHandle, port: int,
                           timeout: float = 10.0) -> socket.socket:
        raise DikteError(f"Ports of runtimes of the {name} backend cannot be served yet.",
                         code="port_unreachable", status=502)

    def shares_loopback(handle: RuntimeHandle) -> bool:
        return True  # the careful answer: Dikte's own port stays refused

    for method in (open_terminal, content, content_root, connect_port, shares_loopback):
        if not hasattr(backend, method.__name__):
            setattr(backend, method.__name__, method)
    return cast(RuntimeBackend, backend)
