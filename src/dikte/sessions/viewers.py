"""Viewers of an open notebook: each gets every delta, in order, through its own queue."""

from __future__ import annotations

import asyncio
from typing import Any


class Viewer:
    """One connected client (a WebSocket). The notebook never waits for a slow viewer."""

    def __init__(self, credential: str = "") -> None:
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.credential = credential
        """Which sign-in or token opened it (a hash), so signing out can close it."""

    def send(self, message: dict[str, Any]) -> None:
        self.queue.put_nowait(message)

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
