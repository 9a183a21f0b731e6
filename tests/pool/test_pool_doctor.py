"""``dikte doctor`` says whether runtimes started ahead can be given a drive on this host."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dikte.runtimes.doctor import host_report

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="pre-started runtimes need root")


def warm(report_drives: Path) -> tuple[bool, bool, str]:
    report = host_report(sandbox_uid_base=600000, pool=2, drives=report_drives)
    check = next(c for c in report.checks if c.name == "warm runtimes")
    return check.ok, check.required, check.detail + check.fix


def test_a_drives_volume_that_can_be_id_mapped_is_reported_ready(tmp_path: Path) -> None:
    ok, required, detail = warm(tmp_path)
    assert ok and not required and "runtime_pool = 2" in detail


def test_a_drives_volume_that_cannot_be_id_mapped_is_a_warning_with_its_fix() -> None:
    ok, required, detail = warm(Path("/proc"))  # procfs has no id-mapped mounts
    assert not ok and not required
    assert "every connect starts a runtime" in detail and "local file system" in detail
