"""Connections to a port of a local runtime, for the port proxy (see ``RuntimeBackend.connect_port``).

The proxy forwards only to a port that a process of the runtime's own user listens on: never to
the control plane, a database, or another person's runtime. Who listens is read from
``/proc/net/tcp*`` of the runtime's network: its own network namespace (see
:mod:`dikte.runtimes.netns`) or, when it shares the host's, the host's.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from dikte.errors import DikteError, Forbidden
from dikte.runtimes import netns as network

_LISTEN = "0A"
# addresses a connection to 127.0.0.1 can reach: 127.0.0.1, 0.0.0.0, and IPv6 :: (dual stack)
_REACHABLE_V4 = {"0100007F", "00000000"}
_REACHABLE_V6 = {"0" * 32, "0000000000000000FFFF00000100007F"}


def listener_uids(port: int, proc_net: Path = Path("/proc/net"),
                  netns: Path | None = None) -> set[int]:
    """The uids of the sockets listening on ``port`` that a connection to 127.0.0.1 reaches:
    in the network namespace ``netns`` (a runtime's own network) when given."""
    uids: set[int] = set()
    for name, reachable in (("tcp", _REACHABLE_V4), ("tcp6", _REACHABLE_V6)):
        try:
            text = (proc_net / name).read_text() if netns is None else \
                network.proc_net(netns, name)
            lines = text.splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 8 or fields[3] != _LISTEN:
                continue
            addr, _, hex_port = fields[1].rpartition(":")
            if int(hex_port, 16) == port and addr.upper() in reachable:
                uids.add(int(fields[7]))
    return uids


async def connect_in(netns: Path | None, host: str, port: int, timeout: float) -> socket.socket:
    """A connected, non-blocking TCP socket to ``host:port`` as seen from the runtime's network
    (the host's when ``netns`` is None)."""
    if netns is None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (host, port)),
                                   timeout)
        except BaseException:
            sock.close()
            raise
        return sock
    return await asyncio.to_thread(network.connect, netns, (host, port), timeout)


async def connect_owned(netns: Path | None, port: int, uid: int, timeout: float) -> socket.socket:
    """A socket to ``127.0.0.1:port`` of the runtime's network, only when the runtime's user
    ``uid`` (and nobody else) listens there: 502 ``port_closed`` when nobody listens, 403
    ``not_runtime_port`` when someone else does."""
    owners = await asyncio.to_thread(listener_uids, port, netns=netns)
    if not owners:
        raise DikteError(f"Nothing listens on port {port} of the runtime (yet).",
                         code="port_closed", status=502)
    if owners != {uid}:
        raise Forbidden(f"Port {port} is not served by this runtime.", code="not_runtime_port")
    return await connect_in(netns, "127.0.0.1", port, timeout)
