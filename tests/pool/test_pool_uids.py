"""A runtime started ahead runs as a uid no person's runtimes use and no process runs as now."""

from __future__ import annotations

import os
import subprocess
import time

import psutil
import pytest

from dikte.runtimes.pooled import POOL_UIDS, pool_uid

BASE = 600000

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run as another uid")


def test_a_uid_still_in_use_by_a_process_is_not_given_to_a_new_runtime() -> None:
    rid = "abcdefghijkl"
    first = pool_uid(BASE, rid)
    assert first >= BASE + POOL_UIDS
    # something of an ended runtime still runs as that uid (a process it left behind)
    left = subprocess.Popen(["setpriv", f"--reuid={first}", f"--regid={first}",
                             "--clear-groups", "sleep", "600"])
    try:
        deadline = time.monotonic() + 60
        while psutil.Process(left.pid).uids().real != first:  # until setpriv switched
            assert time.monotonic() < deadline, "setpriv did not switch uid"
            time.sleep(0.01)
        again = pool_uid(BASE, rid)
        assert again != first and again >= BASE + POOL_UIDS
    finally:
        left.kill()
        left.wait()
    assert pool_uid(BASE, rid) == first  # free again once nothing runs as it
