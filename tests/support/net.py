"""Addresses for servers that tests start on the host for runtimes to reach."""

from __future__ import annotations

import subprocess

import pytest


def public_address() -> str:
    """An IPv4 address of this machine that is not loopback: where a runtime with a network
    of its own reaches the host, as it would reach any server of the internet (the host's
    loopback is out of its reach)."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        return line.split()[3].split("/")[0]
    pytest.fail("this machine has no non-loopback IPv4 address for runtimes to reach")
