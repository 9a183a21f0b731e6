"""``dikte doctor``'s host report on this machine."""

from __future__ import annotations

import os

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
    network = next(c for c in report.checks if c.name == "network")
    if os.geteuid() == 0:  # it brought a runtime's network up (lo and slirp4netns's tap0)
        assert network.ok and network.required and "tap0" in network.detail, text
        disk = next(c for c in report.checks if c.name == "disk")
        assert disk.ok and "ext4" in disk.detail, text
    else:
        assert not network.required and "need" in network.detail, text


def test_a_shared_network_is_reported_not_required() -> None:
    report = host_report(sandbox_uid_base=600000, network="host")
    network = next(c for c in report.checks if c.name == "network")
    assert network.ok and not network.required and "shared with the host" in network.detail


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


def test_servers_starting_together_do_not_break_each_others_cgroup_check() -> None:
    # Every server start runs the host checks, whose cgroup probe had one fixed name: a server
    # removing its probe while another wrote its limits made the other refuse to start
    # ("cgroup setup for doctorprobe0 failed: No such file or directory") on a CI run.
    from concurrent.futures import ThreadPoolExecutor

    from dikte.runtimes.doctor import _cgroup_check

    with ThreadPoolExecutor(4) as pool:
        checks = list(pool.map(lambda _: _cgroup_check(os.geteuid() == 0), range(200)))
    failed = [c.detail for c in checks if not c.ok]
    assert failed == [], failed[:3]
