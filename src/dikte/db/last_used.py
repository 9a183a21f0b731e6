"""When each credential was last used: bookkeeping that no request waits for or depends on.

Checking a credential only reads the database. The time it was used is handed to one background
thread, at most once a minute per credential, and written there; a write that fails (a full disk,
a database that is read-only for a while) is logged and dropped, and tried again a minute later
at the earliest. So a full disk cannot make a request fail that only needed to authenticate, such
as the delete that would free space.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

log = logging.getLogger(__name__)

Kind = Literal["token", "session"]
Write = Callable[[Kind, int, float], None]

TOUCH_EVERY = 60.0
"""Seconds between last-used writes for one credential."""
_MAX_NOTED = 10_000
"""Credentials remembered between writes; past that the memory starts afresh (a few extra writes)."""


class LastUsed:
    """Records, off the request path, that credential ``(kind, id)`` was used at ``now``."""

    def __init__(self, write: Write) -> None:
        self._write = write
        self._lock = threading.Lock()
        self._noted: dict[tuple[Kind, int], float] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._closed = False

    def note(self, kind: Kind, row_id: int, recorded: float | None, now: float) -> None:
        """``recorded``: the time the database holds (None: never used)."""
        key = (kind, row_id)
        with self._lock:
            if self._closed:
                return
            last = self._noted.get(key, recorded)
            if last is not None and now - last <= TOUCH_EVERY:
                return
            if len(self._noted) >= _MAX_NOTED:
                self._noted.clear()
            self._noted[key] = now
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dikte-last-used")
            self._pool.submit(self._run, kind, row_id, now)

    def _run(self, kind: Kind, row_id: int, now: float) -> None:
        try:
            self._write(kind, row_id, now)
        except Exception as exc:  # bookkeeping only: never worth failing anything for
            log.warning("could not record when %s %d was last used: %s", kind, row_id, exc)

    def flush(self) -> None:
        """Wait for the writes handed over so far (tests, and before closing)."""
        with self._lock:
            pool = self._pool
        if pool is not None:
            pool.submit(lambda: None).result()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
