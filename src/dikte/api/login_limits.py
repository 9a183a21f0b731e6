"""Login rate limiting: a few failures per name and per client address, then a pause.

Counted in the control plane's memory (one process serves the API). Five failed sign-ins for one
name, or from one address, within five minutes refuse further attempts for that key (with the
right password too, or guessing would go on) until the oldest failure leaves the window; a
successful sign-in clears its keys.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence

from dikte.errors import QuotaExceeded

MAX_KEYS = 100_000  # bounds the memory an attacker can make us spend


class LoginLimiter:
    def __init__(self, max_failures: int = 5, window: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def check(self, keys: Sequence[str]) -> None:
        """Refuse (429 with Retry-After) when any key has too many recent failures."""
        now = self.clock()
        for key in keys:
            times = self._recent(key, now)
            if len(times) >= self.max_failures:
                wait = max(1, math.ceil(times[0] + self.window - now))
                what = "for this name" if key.startswith("name:") else "from your address"
                when = f"{wait} seconds" if wait < 120 else f"{math.ceil(wait / 60)} minutes"
                raise QuotaExceeded(
                    f"Too many failed sign-ins {what} ({len(times)} in "
                    f"{int(self.window // 60)} minutes). Try again in {when}.",
                    code="too_many_sign_ins", retry_after=wait)

    def failed(self, keys: Sequence[str]) -> None:
        now = self.clock()
        if len(self._failures) >= MAX_KEYS:
            for key in list(self._failures):
                self._recent(key, now)
        for key in keys:
            self._recent(key, now)
            self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._failures.pop(key, None)
