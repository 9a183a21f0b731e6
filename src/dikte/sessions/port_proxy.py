"""Serving a port of a runtime to its person's browser (Colab's ``serve_kernel_port_as_iframe``).

Three pieces, each small:

- :class:`ServedPorts`: the ports each runtime asked to serve (through the runtime channel).
  Nothing else is ever proxied.
- Capabilities: an HMAC-signed, expiring token naming (runtime, port, person), minted for the
  person by an authenticated API call and carried in the proxied URL's path. A sandboxed
  document runs in an opaque origin whose own requests carry no cookie, so the URL itself has
  to be the credential; it is short-lived, bound to one port of one live runtime and its
  owner, and never stored in the notebook. :func:`sign` and :func:`verify` are pure (``now``
  is passed in).
- :func:`listener_uids`: who listens on ``127.0.0.1:port``, read from ``/proc/net/tcp*``. The
  runtime shares the host's network, so the proxy only forwards to a port a process of the
  runtime's own user listens on: never to the control plane, a database, or another person's
  runtime.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

MAX_PORTS_PER_RUNTIME = 32
CAPABILITY_TTL_S = 4 * 3600
"""How long a proxied URL works (the page asks for a new one each time it shows the output)."""
_MAC_BYTES = 24
_LABEL = b"dikte-port-proxy\0"


def port_refusal(port: int, server_port: int | None) -> str | None:
    """Why ``port`` may not be proxied, or ``None`` when it may."""
    if not 1024 < port <= 65535:
        return f"Port {port} cannot be served: choose a port from 1025 to 65535."
    if server_port is not None and port == server_port:
        return f"Port {port} is Dikte's own port and cannot be served."
    return None


class ServedPorts:
    """The ports each runtime asked to serve; in memory (a restarted server forgets them, and
    the cell that served the port has to run again)."""

    def __init__(self) -> None:
        self._ports: dict[str, set[int]] = {}

    def serve(self, runtime_id: str, port: int) -> bool:
        """Record the request; ``False`` when the runtime already serves too many ports."""
        ports = self._ports.setdefault(runtime_id, set())
        if port not in ports and len(ports) >= MAX_PORTS_PER_RUNTIME:
            return False
        ports.add(port)
        return True

    def serves(self, runtime_id: str, port: int) -> bool:
        return port in self._ports.get(runtime_id, ())

    def keep_only(self, live_runtime_ids: set[str]) -> None:
        """Forget the ports of runtimes that have ended."""
        for rid in list(self._ports):
            if rid not in live_runtime_ids:
                del self._ports[rid]


@dataclass(frozen=True)
class Capability:
    runtime_id: str
    port: int
    person_id: int
    expires_at: int


class CapabilityRefused(Exception):
    """The token is malformed, forged or expired; the message says which, for the person."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _mac(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, _LABEL + body.encode(), hashlib.sha256).digest()[:_MAC_BYTES])


def sign(key: bytes, cap: Capability) -> str:
    """``<runtime>.<port>.<person>.<expires>.<mac>``: URL-safe, one path segment."""
    body = f"{cap.runtime_id}.{cap.port}.{cap.person_id}.{cap.expires_at}"
    return f"{body}.{_mac(key, body)}"


def verify(key: bytes, token: str, now: float) -> Capability:
    parts = token.split(".")
    if len(parts) != 5 or not all(parts):
        raise CapabilityRefused("This proxied address is not valid.")
    body, mac = ".".join(parts[:4]), parts[4]
    if not hmac.compare_digest(mac.encode(), _mac(key, body).encode()):
        raise CapabilityRefused("This proxied address is not valid.")
    rid, port, person, expires = parts[:4]
    try:
        cap = Capability(runtime_id=rid, port=int(port), person_id=int(person),
                         expires_at=int(expires))
    except ValueError:
        raise CapabilityRefused("This proxied address is not valid.") from None
    if now >= cap.expires_at:
        raise CapabilityRefused("This proxied address has expired. Show the output again (or "
                                "run its cell again) for a new one.")
    return cap


class PortProxy:
    """The served ports and the key capabilities are signed with (one per server)."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self.ports = ServedPorts()

    def sign(self, cap: Capability) -> str:
        return sign(self._key, cap)

    def verify(self, token: str, now: float) -> Capability:
        return verify(self._key, token, now)


# ---- who listens on a port -------------------------------------------------------------------

_LISTEN = "0A"
# addresses a connection to 127.0.0.1 can reach: 127.0.0.1, 0.0.0.0, and IPv6 :: (dual stack)
_REACHABLE_V4 = {"0100007F", "00000000"}
_REACHABLE_V6 = {"0" * 32, "0000000000000000FFFF00000100007F"}


def listener_uids(port: int, proc_net: Path = Path("/proc/net")) -> set[int]:
    """The uids of the sockets listening on ``port`` that a connection to 127.0.0.1 reaches."""
    uids: set[int] = set()
    for name, reachable in (("tcp", _REACHABLE_V4), ("tcp6", _REACHABLE_V6)):
        try:
            lines = (proc_net / name).read_text().splitlines()[1:]
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
