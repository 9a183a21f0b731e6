"""Last-used bookkeeping (issue 11, item 7): off the request path, at most once a minute per
credential, and a failed write is logged and dropped, never raised to the request."""

from __future__ import annotations

import logging

import pytest

from dikte.db.last_used import TOUCH_EVERY, Kind, LastUsed


def test_writes_at_most_once_a_minute_per_credential() -> None:
    written: list[tuple[Kind, int, float]] = []
    last_used = LastUsed(lambda kind, row_id, now: written.append((kind, row_id, now)))
    try:
        last_used.note("token", 1, None, 1000.0)  # never used: written
        last_used.note("token", 1, None, 1001.0)  # the database may not have it yet: not again
        last_used.note("session", 1, 1000.0, 1010.0)  # recorded 10 s ago: not written
        last_used.note("token", 1, None, 1000.0 + TOUCH_EVERY + 1)
        last_used.flush()
    finally:
        last_used.close()
    assert written == [("token", 1, 1000.0), ("token", 1, 1000.0 + TOUCH_EVERY + 1)]


def test_a_failed_write_is_logged_and_tried_again_a_minute_later(
        caplog: pytest.LogCaptureFixture) -> None:
    attempts: list[float] = []

    def full(_kind: Kind, _row_id: int, now: float) -> None:
        attempts.append(now)
        raise OSError(28, "No space left on device")

    last_used = LastUsed(full)
    try:
        with caplog.at_level(logging.WARNING, logger="dikte.db.last_used"):
            last_used.note("token", 7, None, 0.0)
            last_used.note("token", 7, None, 5.0)
            last_used.flush()
            last_used.note("token", 7, None, TOUCH_EVERY + 1)
            last_used.flush()
    finally:
        last_used.close()
    assert attempts == [0.0, TOUCH_EVERY + 1]
    assert "could not record when token 7 was last used" in caplog.text
