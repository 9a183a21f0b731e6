"""The port proxy's pure pieces: port rules, capabilities, the served-port registry, and who
listens on a port (read from a /proc/net written here; the real one is used by
tests/api/test_port_proxy.py)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from dikte.bridge.port_proxy import (
    MAX_PORTS_PER_RUNTIME,
    Capability,
    CapabilityRefused,
    ServedPorts,
    port_refusal,
    sign,
    verify,
)
from dikte.runtimes.ports import listener_uids

KEY = b"k" * 32
CAP = Capability(runtime_id="abc123", port=8000, person_id=7, expires_at=1_000)


@pytest.mark.parametrize(("port", "server_port", "allowed"), [
    (8000, 5000, True), (1025, None, True), (65535, 5000, True),
    (1024, None, False), (80, 5000, False), (0, None, False), (-1, None, False),
    (65536, None, False), (5000, 5000, False),
])
def test_port_rules(port: int, server_port: int | None, allowed: bool) -> None:
    assert (port_refusal(port, server_port) is None) is allowed


def test_a_capability_round_trips_until_it_expires() -> None:
    token = sign(KEY, CAP)
    assert "/" not in token and token.startswith("abc123.8000.7.1000.")
    assert verify(KEY, token, now=999.9) == CAP
    with pytest.raises(CapabilityRefused, match="expired"):
        verify(KEY, token, now=1_000)


@pytest.mark.parametrize("change", [
    lambda t: t.replace(".8000.", ".8001."),        # another port
    lambda t: t.replace(".7.", ".8."),              # another person
    lambda t: t.replace(".1000.", ".9999999999."),  # a later expiry
    lambda t: t.replace("abc123", "abc124"),        # another runtime
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
    lambda t: t + ".x", lambda t: t.rsplit(".", 1)[0], lambda t: "", lambda t: ".....",
])
def test_a_changed_or_malformed_capability_is_refused(change: object) -> None:
    token = change(sign(KEY, CAP))  # type: ignore[operator]
    with pytest.raises(CapabilityRefused, match="not valid"):
        verify(KEY, token, now=0)


def test_another_key_does_not_verify() -> None:
    with pytest.raises(CapabilityRefused):
        verify(b"o" * 32, sign(KEY, CAP), now=0)


def test_served_ports_are_per_runtime_bounded_and_forgotten() -> None:
    ports = ServedPorts()
    assert ports.serve("r1", 8000) and ports.serves("r1", 8000)
    assert not ports.serves("r2", 8000) and not ports.serves("r1", 8001)
    for p in range(9000, 9000 + MAX_PORTS_PER_RUNTIME - 1):
        assert ports.serve("r1", p)
    assert not ports.serve("r1", 7000)
    assert ports.serve("r1", 8000)  # asking again for a served port is fine
    ports.keep_only({"r2"})
    assert not ports.serves("r1", 8000)


def _proc_net(rows: list[tuple[str, str, int]]) -> str:
    """A /proc/net/tcp{,6} table: (local address, state, uid) per socket, in the kernel's
    columns (sl, local, remote, st, tx:rx, tr:when, retrnsmt, uid, timeout, inode)."""
    head = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
    return head + "".join(
        f"{i:4}: {local} {'0' * (len(local) - 5)}:0000 {st} 00000000:00000000 00:00000000 "
        f"00000000 {uid:5} 0 {i + 1}\n" for i, (local, st, uid) in enumerate(rows))


V6_ANY, V6_LOOPBACK = "0" * 32, "0" * 24 + "01000000"
V6_MAPPED = "0000000000000000FFFF0000" + "0100007F"  # ::ffff:127.0.0.1
PROC_TCP = _proc_net([("0100007F:1F40", "0A", 2001), ("00000000:1F41", "0A", 2002),
                      ("0200007F:1F42", "0A", 2003), ("0100007F:1F43", "01", 2004)])
PROC_TCP6 = _proc_net([(f"{V6_ANY}:1F44", "0A", 2005), (f"{V6_LOOPBACK}:1F45", "0A", 2006),
                       (f"{V6_MAPPED}:1F40", "0A", 2007)])


@pytest.mark.parametrize(("port", "uids"), [
    (8000, {2001, 2007}),  # 127.0.0.1, and ::ffff:127.0.0.1
    (8001, {2002}),        # 0.0.0.0
    (8002, set()),         # 127.0.0.2: a connection to 127.0.0.1 does not reach it
    (8003, set()),         # a connection, not a listener
    (8004, {2005}),        # :: (dual stack)
    (8005, set()),         # ::1 only
    (9999, set()),
])
def test_listeners_that_a_connection_to_127_0_0_1_reaches(tmp_path: Path, port: int,
                                                          uids: set[int]) -> None:
    (tmp_path / "tcp").write_text(PROC_TCP)
    (tmp_path / "tcp6").write_text(PROC_TCP6)
    assert listener_uids(port, tmp_path) == uids


def test_listeners_on_this_machine() -> None:
    import os

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        assert listener_uids(port) == set()
        s.listen()
        assert listener_uids(port) == {os.geteuid()}
