"""Failed sign-ins, counted in the database for the login rate limit.

One row per failure per key (``name:<lower-cased name>`` or ``addr:<client address>``), keyed by
the key's SHA-256 so that whatever someone typed as a name is neither stored nor bounded by a
column. Every server process on the same database sees the same counts, and a restart forgets
none. Rows older than the window are deleted as new failures arrive. The decision itself (allow,
or refuse and for how long) is :func:`dikte.api.login_limits.refusal`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from dikte.db.models import SignInFailureRow


@dataclass(frozen=True)
class Failures:
    """Recent failures of one key: how many, and when the oldest of them happened."""

    count: int
    oldest: float


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class SignInFailures:
    def __init__(self, session: Callable[[], Session], *, clock: Callable[[], float]) -> None:
        self.session = session
        self.clock = clock

    def recent(self, keys: Sequence[str], since: float) -> dict[str, Failures]:
        """The failures after ``since`` of each key that has any."""
        by_hash = {_hash(k): k for k in keys}
        with self.session() as s:
            rows = s.execute(
                select(SignInFailureRow.key_hash, func.count(), func.min(SignInFailureRow.at))
                .where(SignInFailureRow.key_hash.in_(by_hash), SignInFailureRow.at > since)
                .group_by(SignInFailureRow.key_hash)).all()
        return {by_hash[h]: Failures(count=n, oldest=oldest) for h, n, oldest in rows}

    def add(self, keys: Sequence[str], forget_before: float) -> None:
        """Record a failure of each key now; forget everyone's failures before ``forget_before``."""
        now = self.clock()
        with self.session() as s, s.begin():
            s.execute(delete(SignInFailureRow).where(SignInFailureRow.at <= forget_before))
            s.add_all(SignInFailureRow(key_hash=_hash(k), at=now) for k in keys)

    def clear(self, keys: Sequence[str]) -> None:
        """A successful sign-in: these keys start again from nothing."""
        with self.session() as s, s.begin():
            s.execute(delete(SignInFailureRow)
                      .where(SignInFailureRow.key_hash.in_([_hash(k) for k in keys])))
