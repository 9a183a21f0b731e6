"""The runtime's disk: when to tell people that it is nearly full.

Where the backend gives a runtime a file system of its disk limit (Dikte runs as root), the limit
holds by itself: a write past it fails with "No space left on device" and the runtime goes on, so
there is nothing to stop. People are told before that happens: once when the disk reaches
:data:`WARN_FRACTION` of the limit, and again only after it went back below
:data:`REARM_FRACTION` (they deleted files) and filled up again. Where the backend can only
measure (Dikte not root), the runtime is stopped past the limit (``sessions.runtime_link``), and
the same warning comes first.
"""

from __future__ import annotations

from dataclasses import dataclass

from dikte.policy.units import format_size

WARN_FRACTION = 0.95
REARM_FRACTION = 0.90


@dataclass(frozen=True, slots=True)
class DiskAdvice:
    """``message``: a warning to show now (None: nothing to say); ``warned``: whether a warning
    stands after this answer (the caller keeps it for the next question)."""

    message: str | None
    warned: bool


def disk_advice(used: int, limit: int, warned: bool) -> DiskAdvice:
    """What to tell the viewers of a runtime whose disk holds ``used`` of ``limit`` bytes;
    ``warned``: a warning was given and still stands."""
    if limit <= 0:
        return DiskAdvice(None, warned)
    if used >= WARN_FRACTION * limit and not warned:
        percent = min(100, int(used * 100 // limit))
        return DiskAdvice(
            f"This runtime's disk is {percent}% full: {format_size(used)} of "
            f"{format_size(limit)} (/content, /tmp, /root and installed packages). Writes past "
            f"{format_size(limit)} fail with \"No space left on device\". Delete files you no "
            "longer need, or keep large data on your drive.", True)
    if used < REARM_FRACTION * limit and warned:
        return DiskAdvice(None, False)
    return DiskAdvice(None, warned)
