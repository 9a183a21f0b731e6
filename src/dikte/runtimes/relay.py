"""The kernel relay: a runtime's kernel sockets offered over TCP to the control plane only.

A kernel on another machine keeps its node-local ipc sockets (only its sandbox and the node's
host process can reach them). The node's host process relays each of the five Jupyter channels
from a TCP port to those sockets, and every TCP port speaks CurveZMQ:

- the traffic is encrypted (nobody on the network reads a cell or an output), and
- a connection is accepted only from a peer holding the runtime's CURVE secret key (a ZAP
  check of the client's public key), which the node host made for this runtime and gave to the
  control plane alone. jupyter_client uses the connection info's one key pair on both sides,
  so the client's public key is the relay's own. The heartbeat, an echo, takes any CURVE peer
  (jupyter_client makes a key pair of its own for it), still encrypted.

Messages stay signed with the kernel's HMAC key as ever. Ray is not on this path: each relay is
one thread that polls its ten sockets and moves frames; nothing else happens per message.

Routing through the relay: shell, control, stdin and heartbeat are ROUTER (front, TCP) to DEALER
(back, ipc). The kernel sees the relay's DEALER identity in front of the client's, and answers
by that envelope; shell and stdin DEALERs share one identity, because ipykernel addresses an
``input_request`` on stdin with the identities of the shell request. IOPub is XPUB to XSUB, with
subscriptions passed upstream.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Mapping
from typing import Any

import zmq
from zmq.auth.thread import ThreadAuthenticator

log = logging.getLogger(__name__)

CHANNELS = ("shell", "control", "stdin", "hb", "iopub")
HEARTBEAT_DOMAIN = "hb:"
IOPUB_QUEUE_MESSAGES = 100_000
"""How many iopub messages the relay holds for a control plane that has not read them yet; the
same depth as the kernel's (``dikte/kernel/launch.py``) and the server's (``dikte.execution.kernel``).
ZeroMQ's default of 1,000 dropped output of a cell printing fast, without a word."""


def new_keypair() -> tuple[str, str]:
    """A CURVE key pair (public, secret), Z85 text as jupyter_client's connection info has it."""
    public, secret = zmq.curve_keypair()
    return public.decode("ascii"), secret.decode("ascii")


def _endpoint(conn: Mapping[str, Any], channel: str) -> str:
    port = conn[f"{channel}_port"]
    if conn.get("transport", "tcp") == "ipc":
        return f"ipc://{conn['ip']}-{port}"
    return f"tcp://{conn['ip']}:{port}"


class _Keys:
    """ZAP answers: on domain ``runtime_id`` only the client key given for that runtime; on
    its heartbeat's domain any key."""

    def __init__(self, auth: ThreadAuthenticator) -> None:
        self._auth = auth
        self._allowed: dict[str, bytes] = {}

    def allow(self, domain: str, public: str) -> None:
        self._allowed[domain] = public.encode("ascii")
        # the authenticator looks domains up exactly (dict reads: safe from its thread)
        self._auth.configure_curve_callback(domain=domain, credentials_provider=self)
        self._auth.configure_curve_callback(domain=HEARTBEAT_DOMAIN + domain,
                                            credentials_provider=self)

    def forget(self, domain: str) -> None:
        self._auth.credentials_providers.pop(domain, None)
        self._auth.credentials_providers.pop(HEARTBEAT_DOMAIN + domain, None)
        self._allowed.pop(domain, None)

    def callback(self, domain: str, key: bytes) -> bool:
        """``key``: the client's public key, Z85."""
        if domain.startswith(HEARTBEAT_DOMAIN):
            # jupyter_client's heartbeat makes a key pair of its own; an echo of bytes the
            # caller sent shows nothing of the kernel's, so any CURVE peer may ping
            return domain[len(HEARTBEAT_DOMAIN):] in self._allowed
        want = self._allowed.get(domain)
        return want is not None and key == want


class RelayHub:
    """Every relay of one process: one ZeroMQ context and one ZAP authenticator for all."""

    def __init__(self, bind_ip: str, ports: tuple[int, int] = (49152, 65536)) -> None:
        self.bind_ip = bind_ip
        self.ports = ports
        """The range relays listen in (``[min, max)``), for the nodes' firewall."""
        self.ctx = zmq.Context()
        self._auth = ThreadAuthenticator(self.ctx, log=logging.getLogger("dikte.relay.zap"))
        self._auth.start()
        self.keys = _Keys(self._auth)
        self.relays: dict[str, KernelRelay] = {}

    def open(self, runtime_id: str, kernel: Mapping[str, Any]) -> dict[str, Any]:
        """Start relaying ``kernel`` (its connection info, ipc); returns the connection info
        for the control plane: TCP ports on ``bind_ip``, the kernel's HMAC key, the CURVE pair."""
        self.close(runtime_id)
        relay = KernelRelay(self, runtime_id, kernel)
        self.relays[runtime_id] = relay
        return relay.connection

    def close(self, runtime_id: str) -> None:
        relay = self.relays.pop(runtime_id, None)
        if relay is not None:
            relay.stop()

    def shutdown(self) -> None:
        for rid in list(self.relays):
            self.close(rid)
        self._auth.stop()
        self.ctx.destroy(linger=0)


class KernelRelay:
    """One runtime's five channels, relayed by one thread."""

    def __init__(self, hub: RelayHub, runtime_id: str, kernel: Mapping[str, Any]) -> None:
        self.runtime_id = runtime_id
        public, secret = new_keypair()
        hub.keys.allow(runtime_id, public)
        self._hub = hub
        ctx = hub.ctx
        self._pairs: list[tuple[zmq.Socket[bytes], zmq.Socket[bytes]]] = []
        ports: dict[str, int] = {}
        identity = f"relay-{runtime_id}".encode()
        try:
            for channel in CHANNELS:
                front = ctx.socket(zmq.XPUB if channel == "iopub" else zmq.ROUTER)
                back = ctx.socket(zmq.XSUB if channel == "iopub" else zmq.DEALER)
                for s in (front, back):
                    s.linger = 0
                front.curve_secretkey = secret.encode("ascii")
                front.curve_publickey = public.encode("ascii")
                front.curve_server = True
                front.zap_domain = (HEARTBEAT_DOMAIN + runtime_id if channel == "hb"
                                    else runtime_id).encode()
                if channel == "iopub":
                    front.setsockopt(zmq.XPUB_VERBOSE, 1)  # every subscriber's welcome
                    # a full queue drops what comes next: as deep as the kernel's own
                    back.setsockopt(zmq.RCVHWM, IOPUB_QUEUE_MESSAGES)
                    front.setsockopt(zmq.SNDHWM, IOPUB_QUEUE_MESSAGES)
                elif channel in ("shell", "stdin"):
                    back.setsockopt(zmq.IDENTITY, identity)
                ports[channel] = front.bind_to_random_port(
                    f"tcp://{hub.bind_ip}", min_port=hub.ports[0], max_port=hub.ports[1],
                    max_tries=1000)
                back.connect(_endpoint(kernel, channel))
                self._pairs.append((front, back))
        except BaseException:
            self._close_sockets()
            hub.keys.forget(runtime_id)
            raise
        self._stop = ctx.socket(zmq.PAIR)
        self._stop_addr = f"inproc://relay-stop-{runtime_id}-{id(self)}"
        self._stop.bind(self._stop_addr)
        self._stopper = ctx.socket(zmq.PAIR)
        self._stopper.connect(self._stop_addr)
        self.connection: dict[str, Any] = {
            "transport": "tcp", "ip": hub.bind_ip,
            **{f"{c}_port": p for c, p in ports.items()},
            "key": kernel["key"], "signature_scheme": kernel.get("signature_scheme",
                                                                  "hmac-sha256"),
            "kernel_name": kernel.get("kernel_name", ""),
            "curve_publickey": public, "curve_secretkey": secret,
        }
        self._thread = threading.Thread(target=self._run, name=f"relay-{runtime_id}",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        poller = zmq.Poller()
        peer: dict[zmq.Socket[bytes], zmq.Socket[bytes]] = {}
        for front, back in self._pairs:
            peer[front], peer[back] = back, front
            poller.register(front, zmq.POLLIN)
            poller.register(back, zmq.POLLIN)
        poller.register(self._stop, zmq.POLLIN)
        try:
            while True:
                events = dict(poller.poll())
                if self._stop in events:
                    return
                for sock in events:
                    # drain what is there now: frames move in whole messages, in order
                    while True:
                        try:
                            frames = sock.recv_multipart(zmq.NOBLOCK, copy=False)
                        except zmq.Again:
                            break
                        peer[sock].send_multipart(frames, copy=False)
        except zmq.ContextTerminated:
            pass
        except Exception:
            log.exception("the kernel relay of %s stopped", self.runtime_id)
        finally:
            self._close_sockets()
            self._stop.close(linger=0)

    def _close_sockets(self) -> None:
        for front, back in self._pairs:
            front.close(linger=0)
            back.close(linger=0)
        self._pairs = []

    def stop(self, timeout: float = 5.0) -> None:
        """End the relay (the kernel is not touched); idempotent."""
        self._hub.keys.forget(self.runtime_id)
        if self._thread.is_alive():
            with contextlib.suppress(zmq.ZMQError):
                self._stopper.send(b"stop")
            self._thread.join(timeout)
        self._stopper.close(linger=0)
