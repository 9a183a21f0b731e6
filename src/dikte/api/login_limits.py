"""Login rate limiting: a few failures per name and per client address, then a pause.

Five failed sign-ins for one name, or from one address, within five minutes refuse further
attempts for that key (with the right password too, or guessing would go on) until the oldest
failure leaves the window; a successful sign-in clears its keys. The failures are rows in the
database (:class:`dikte.db.sign_ins.SignInFailures`), so several server processes share one count
and a restart resets nothing. The rule itself is :func:`refusal`, a pure function.

Two attempts checked at the same moment may both pass before either failure is written, so under
a burst the limit can be exceeded by the number of attempts in flight; each of those still costs
an argon2 verification, and the next check sees them all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from dikte.db.sign_ins import Failures, SignInFailures
from dikte.errors import QuotaExceeded

MAX_FAILURES = 5
WINDOW = 300.0  # seconds


def refusal(failures: Mapping[str, Failures], now: float, max_failures: int = MAX_FAILURES,
            window: float = WINDOW) -> QuotaExceeded | None:
    """The 429 for the first key with too many failures in the window, or None to go ahead."""
    for key, seen in failures.items():
        if seen.count >= max_failures:
            wait = max(1, math.ceil(seen.oldest + window - now))
            what = "for this name" if key.startswith("name:") else "from your address"
            when = (f"{wait} second{'s' if wait != 1 else ''}" if wait < 120
                    else f"{math.ceil(wait / 60)} minutes")
            return QuotaExceeded(
                f"Too many failed sign-ins {what} ({seen.count} in {int(window // 60)} "
                f"minutes). Try again in {when}.", code="too_many_sign_ins", retry_after=wait)
    return None


class LoginLimiter:
    """Applies :func:`refusal` to the failures recorded in the database."""

    def __init__(self, log: SignInFailures, max_failures: int = MAX_FAILURES,
                 window: float = WINDOW) -> None:
        self.log = log
        self.max_failures = max_failures
        self.window = window

    def check(self, keys: Sequence[str]) -> None:
        """Refuse (429 with Retry-After) when any key has too many recent failures."""
        now = self.log.clock()
        recent = self.log.recent(keys, since=now - self.window)
        ordered = {k: recent[k] for k in keys if k in recent}
        refused = refusal(ordered, now, self.max_failures, self.window)
        if refused is not None:
            raise refused

    def failed(self, keys: Sequence[str]) -> None:
        self.log.add(keys, forget_before=self.log.clock() - self.window)

    def succeeded(self, keys: Sequence[str]) -> None:
        self.log.clear(keys)
