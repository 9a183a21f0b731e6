"""What a policy function answers: a :class:`Decision`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dikte.errors import DikteError, Forbidden, InsufficientStorage, QuotaExceeded

Kind = Literal["allow", "deny", "queue", "warn", "stop"]

# deny codes -> the domain error sessions/ raises for them (HTTP status via dikte.errors)
_ERRORS: dict[str, type[DikteError]] = {
    "shape_unavailable": Forbidden,
    "background_unavailable": Forbidden,
    "drive_full": InsufficientStorage,
}


@dataclass(frozen=True, slots=True)
class Decision:
    """One answer of a policy function.

    ``kind``: ``allow`` (go on), ``deny`` (refuse; ``message`` says why), ``queue`` (wait your turn),
    ``warn`` (a stop is coming at ``at``), ``stop`` (stop the runtime now; ``message`` is the reason
    to record and show). ``code`` is stable for machines (``"ok"`` for allow; otherwise it names the
    rule, the same code for a rule's warning and its stop). ``message`` is a sentence for people
    naming the limit, the current value and what to do or when it resets. ``retry_after_s`` is how
    long until trying again can succeed, when that is known. ``at`` is the time (as ``now``) a
    warned stop will happen.
    """

    kind: Kind
    code: str
    message: str = ""
    retry_after_s: int | None = None
    at: float | None = None

    @staticmethod
    def allow() -> Decision:
        return Decision("allow", "ok")

    @property
    def allowed(self) -> bool:
        """True for ``allow`` and ``warn`` (the runtime may go on for now)."""
        return self.kind in ("allow", "warn")

    def to_error(self) -> DikteError:
        """The domain error for a ``deny``: 403 for what the tier lacks, 507 for a full drive,
        429 (with Retry-After where known) for limits that free up with time or action."""
        if self.kind != "deny":
            raise ValueError(f"only a deny becomes an error, not {self.kind!r}")
        cls = _ERRORS.get(self.code, QuotaExceeded)
        return cls(self.message, code=self.code, retry_after=self.retry_after_s)
