"""Terminals into a notebook's runtime: a shell per WebSocket, ended with the socket or the runtime."""

from __future__ import annotations

import asyncio

from dikte.bridge.runtime_files import connected_runtime, not_connected
from dikte.control.manager import SessionManager
from dikte.runtimes.terminal import Terminal


class RuntimeTerminal:
    """A shell in the runtime of one open notebook."""

    def __init__(self, term: Terminal, sessions: SessionManager, person_id: int,
                 path: str) -> None:
        self.term = term
        self._sessions = sessions
        self._key = (person_id, path)
        self._nb, self._link = connected_runtime(sessions, person_id, path)

    @classmethod
    async def open(cls, sessions: SessionManager, person_id: int, path: str, cols: int,
                   rows: int) -> RuntimeTerminal:
        """Start a shell; 409 ``not_connected`` when the notebook has no connected runtime."""
        try:
            _, link = connected_runtime(sessions, person_id, path)
        except Exception:
            raise not_connected("open a terminal") from None
        assert link.handle is not None
        term = await sessions.backend.open_terminal(link.handle, cols, rows)
        return cls(term, sessions, person_id, path)

    async def runtime_gone(self, step: float = 0.5) -> None:
        """Returns once the runtime this shell runs in is disconnected (or replaced)."""
        while True:
            if self._nb.runtime is not self._link or self._link.handle is None:
                return
            await asyncio.sleep(step)
