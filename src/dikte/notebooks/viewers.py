"""Viewers of an open notebook: each gets every delta, in order, through its own queue.

A queue holds at most ``max_messages``: a viewer that falls further behind (a slow network, a
sleeping laptop, a cell printing faster than the browser reads) has its backlog dropped and is
sent a fresh snapshot of the document instead (:data:`RESYNC`), so one slow browser cannot grow
the server's memory without limit and still ends with exactly the server's copy.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

HELD_NOTICES = 20


RESYNC: dict[str, Any] = {"type": "resync"}
"""In a viewer's queue in place of the deltas it fell behind on: send it a fresh snapshot."""


class Viewer:
    """One connected client (a WebSocket). The notebook never waits for a slow viewer."""

    def __init__(self, credential: str = "", max_messages: int = 2000) -> None:
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.credential = credential
        """Which sign-in or token opened it (a hash), so signing out can close it."""
        self.max_messages = max_messages
        self.lagging = False
        """Its backlog was dropped; deltas are not queued until its sender takes RESYNC."""
        self._held: deque[dict[str, Any]] = deque(maxlen=HELD_NOTICES)

    def send(self, message: dict[str, Any]) -> None:
        if self.lagging:
            self._hold(message)  # a delta: the snapshot it will get is taken later and holds it
            return
        if self.queue.qsize() >= self.max_messages:
            while not self.queue.empty():
                dropped = self.queue.get_nowait()
                if dropped is None:  # keep a close in its place
                    self.queue.put_nowait(None)
                    return
                self._hold(dropped)
            self.lagging = True
            self.queue.put_nowait(RESYNC)
            return
        self.queue.put_nowait(message)

    def _hold(self, message: dict[str, Any]) -> None:
        """Notices are not in the document: keep the latest ones for after the snapshot."""
        if message.get("type") == "notice":
            self._held.append(message)

    def resynced(self) -> list[dict[str, Any]]:
        """Its sender took RESYNC and sends a snapshot taken now, then the notices returned
        here; deltas flow again."""
        self.lagging = False
        held, self._held = list(self._held), deque(maxlen=HELD_NOTICES)
        return held

    def close(self) -> None:
        self.queue.put_nowait(None)


class Audience:
    """The set of viewers of one notebook."""

    def __init__(self) -> None:
        self._viewers: set[Viewer] = set()

    def __len__(self) -> int:
        return len(self._viewers)

    def join(self, credential: str = "") -> Viewer:
        viewer = Viewer(credential)
        self._viewers.add(viewer)
        return viewer

    def __contains__(self, viewer: object) -> bool:
        return viewer in self._viewers

    def members(self) -> list[Viewer]:
        return list(self._viewers)

    def leave(self, viewer: Viewer) -> None:
        self._viewers.discard(viewer)

    def broadcast(self, message: dict[str, Any]) -> None:
        for viewer in self._viewers:
            viewer.send(message)

    def close_where(self, credential: str) -> int:
        """Close the viewers opened with ``credential`` (signed out, token revoked)."""
        gone = [v for v in self._viewers if v.credential == credential]
        for viewer in gone:
            viewer.close()
            self._viewers.discard(viewer)
        return len(gone)

    def close_all(self) -> None:
        for viewer in self._viewers:
            viewer.close()
        self._viewers.clear()
