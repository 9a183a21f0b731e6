"""``dikte doctor``'s host report on this machine."""

from __future__ import annotations

from dikte.runtimes.doctor import Check, HostReport, host_report


def test_this_host_can_sandbox() -> None:
    report = host_report(sandbox_uid_base=600000)
    text = report.render()
    assert report.sandbox_ok, text
    assert "bubblewrap" in text and "cgroup v" in text
    names = {c.name for c in report.checks}
    assert {"bubblewrap", "namespaces", "seccomp", "user", "system layer", "cgroups",
            "overlay", "ipc sockets"} <= names
    seccomp = next(c for c in report.checks if c.name == "seccomp")
    assert seccomp.ok and "user namespaces" in seccomp.detail, text


def test_failed_checks_show_their_fix() -> None:
    report = HostReport([
        Check("bubblewrap", False, "bwrap is not installed", "apt-get install bubblewrap"),
        Check("overlay", False, "no --tmp-overlay", "upgrade bubblewrap", required=False),
    ])
    text = report.render()
    assert not report.sandbox_ok
    assert "[FAIL]  bubblewrap" in text and "fix: apt-get install bubblewrap" in text
    assert "[warn]  overlay" in text
    assert "NOT available" in text
    assert HostReport([report.checks[1]]).sandbox_ok
