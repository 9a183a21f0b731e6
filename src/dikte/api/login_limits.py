"""Sign-in throttling: slow down whoever guesses passwords, without locking the person out.

Each failed sign-in is recorded under a few keys, and an attempt is refused (429 with Retry-After
and a sentence) while any of its keys has too many failures in the last five minutes
(:data:`LIMITS`):

- ``pair:<name>@<address>``: an account from one address (5). Guessing one person's password
  from one place stops quickly; the person signing in from anywhere else is not affected.
- ``addr:<address>``: everything from one address (20): spreading guesses over many accounts.
- ``name:<name>``: an account from browsers that never signed in to it (20): guesses spread over
  many addresses. A browser that signed in to the account before carries a *known device*
  cookie (signed by the server, naming the account) and is exempt from this key and from the
  address key: an attacker cannot keep the real person out of their own account.
- ``device:<cookie>``: a known device (5), so a stolen cookie is no way to guess either.

A successful sign-in clears only its own ``pair`` and ``device`` keys: signing in to an account
of one's own does not reset the count of an address or of an account under attack. The failures
are rows in the database (:class:`dikte.db.sign_ins.SignInFailures`), so several server processes
share one count and a restart resets nothing. The rule itself is :func:`refusal`, a pure function.

Two attempts checked at the same moment may both pass before either failure is written, so under
a burst the limit can be exceeded by the number of attempts in flight; each of those still costs
an argon2 verification, and the next check sees them all.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Mapping, Sequence

from dikte.db.sign_ins import Failures, SignInFailures
from dikte.errors import QuotaExceeded

WINDOW = 300.0  # seconds
LIMITS: Mapping[str, int] = {"pair": 5, "device": 5, "addr": 20, "name": 20}
"""Failures in :data:`WINDOW` per kind of key before attempts with that key wait."""

_WHAT = {
    "pair": "Too many wrong passwords for this account from your address",
    "device": "Too many wrong passwords from this browser",
    "addr": "Too many failed sign-ins from your address",
    "name": "Too many wrong passwords for this account from browsers that have not signed in "
            "to it before",
}
DEVICE_COOKIE_AGE = 400 * 24 * 3600
"""How long a browser stays known (browsers cap cookies at 400 days)."""


def keys_for(name: str | None, address: str, device: str | None) -> list[str]:
    """The keys an attempt is checked and counted under (see the module docstring). ``device``:
    the known-device cookie, already verified for this account (None when there is none)."""
    if name is None:  # a token sign-in: only the address
        return [f"addr:{address}"]
    name = name.lower()
    if device is not None:
        return [f"device:{hashlib.sha256(device.encode()).hexdigest()}"]
    return [f"pair:{name}@{address}", f"addr:{address}", f"name:{name}"]


def refusal(failures: Mapping[str, Failures], now: float, limits: Mapping[str, int] = LIMITS,
            window: float = WINDOW) -> QuotaExceeded | None:
    """The 429 for the first key with too many failures in the window, or None to go ahead."""
    for key, seen in failures.items():
        kind = key.split(":", 1)[0]
        if seen.count >= limits.get(kind, min(limits.values())):
            wait = max(1, math.ceil(seen.oldest + window - now))
            when = (f"{wait} second{'s' if wait != 1 else ''}" if wait < 120
                    else f"{math.ceil(wait / 60)} minutes")
            hint = " Sign in from a browser you used before, or try again" if kind == "name" \
                else " Try again"
            return QuotaExceeded(
                f"{_WHAT.get(kind, 'Too many failed sign-ins')} ({seen.count} in "
                f"{int(window // 60)} minutes).{hint} in {when}.",
                code="too_many_sign_ins", retry_after=wait)
    return None


class LoginLimiter:
    """Applies :func:`refusal` to the failures recorded in the database."""

    def __init__(self, log: SignInFailures, limits: Mapping[str, int] = LIMITS,
                 window: float = WINDOW) -> None:
        self.log = log
        self.limits = limits
        self.window = window

    def check(self, keys: Sequence[str]) -> None:
        """Refuse (429 with Retry-After) when any key has too many recent failures."""
        now = self.log.clock()
        recent = self.log.recent(keys, since=now - self.window)
        ordered = {k: recent[k] for k in keys if k in recent}
        refused = refusal(ordered, now, self.limits, self.window)
        if refused is not None:
            raise refused

    def failed(self, keys: Sequence[str]) -> None:
        self.log.add(keys, forget_before=self.log.clock() - self.window)

    def succeeded(self, keys: Sequence[str]) -> None:
        """The person got in: their own attempt's count starts again; an address's or an
        account's does not (else signing in to one's own account would reset an attack)."""
        self.log.clear([k for k in keys if k.startswith(("pair:", "device:"))])


class KnownDevices:
    """The known-device cookie: ``<nonce>.<HMAC(key, account name, nonce)>``, set when a browser
    signs in to an account; it proves nothing but that this browser did so before."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, name: str, nonce: str) -> str:
        return hmac.new(self._key, f"{name.lower()}\0{nonce}".encode(), "sha256").hexdigest()

    def issue(self, name: str) -> str:
        nonce = secrets.token_urlsafe(16)
        return f"{nonce}.{self._mac(name, nonce)}"

    def verify(self, name: str, cookie: str | None) -> str | None:
        """``cookie`` when it was issued for the account ``name``, else None."""
        if not cookie or cookie.count(".") != 1:
            return None
        nonce, mac = cookie.split(".")
        return cookie if hmac.compare_digest(mac, self._mac(name, nonce)) else None
