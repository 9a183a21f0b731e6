"""When a runtime's viewers hear that its disk is nearly full (dikte.policy.disk), as a table."""

from __future__ import annotations

import pytest

from dikte.policy.disk import disk_advice

MiB = 2**20


@pytest.mark.parametrize(("used", "warned", "says", "stands"), [
    (0, False, False, False),               # empty
    (94 * MiB, False, False, False),        # below 95%: nothing
    (95 * MiB, False, True, True),          # at 95%: warned once...
    (99 * MiB, True, False, True),          # ...not again while it stays full
    (100 * MiB, True, False, True),         # full: the file system refuses writes; no stop
    (92 * MiB, True, False, True),          # between 90% and 95%: the warning still stands
    (89 * MiB, True, False, False),         # below 90%: re-armed...
    (96 * MiB, False, True, True),          # ...so filling up again is warned again
])
def test_warned_once_at_95_percent_and_again_after_going_below_90(
        used: int, warned: bool, says: bool, stands: bool) -> None:
    advice = disk_advice(used, 100 * MiB, warned)
    assert (advice.message is not None, advice.warned) == (says, stands)


def test_the_warning_names_the_use_the_limit_and_what_happens_past_it() -> None:
    advice = disk_advice(int(97.5 * MiB), 100 * MiB, False)
    assert advice.message == (
        "This runtime's disk is 97% full: 97.5 MiB of 100 MiB (/content, /tmp, /root and "
        "installed packages). Writes past 100 MiB fail with \"No space left on device\". Delete "
        "files you no longer need, or keep large data on your drive.")


def test_no_limit_says_nothing() -> None:
    assert disk_advice(10, 0, False).message is None
