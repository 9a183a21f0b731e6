"""A thin async client for one kernel over the Jupyter messaging protocol.

It speaks ZeroMQ directly (``zmq.asyncio``) and uses jupyter_client's ``Session`` only to sign and
parse messages, so each message costs one ``send_multipart`` and nothing polls. The shell and stdin
sockets use a fixed identity (the runtime's id): after a control-plane restart a new client with the
same identity receives the replies to requests the previous one sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import zmq
import zmq.asyncio
from jupyter_client.session import Session

log = logging.getLogger(__name__)

Message = dict[str, Any]
Handler = Callable[[Message], None]


HEARTBEAT_SECONDS = 1.0
IOPUB_QUEUE_MESSAGES = 100_000
"""How far reading iopub may fall behind the kernel. ZeroMQ's default (1,000 at each end)
dropped output, silently, when a cell printing fast met a pause of the event loop of a fraction
of a second; at this many, a pause of seconds is absorbed (messages of such a cell are small:
some tens of MB at most per runtime). The kernel (``dikte/kernel/launch.py``) and a remote
runtime's relay queue as many on their side."""


class KernelGone(Exception):
    """The kernel did not answer in time."""


def _url(connection: dict[str, Any], channel: str) -> str:
    transport = connection.get("transport", "tcp")
    port = connection[f"{channel}_port"]
    if transport == "ipc":
        return f"ipc://{connection['ip']}-{port}"
    return f"tcp://{connection['ip']}:{port}"


class KernelChannel:
    """Connects to a running kernel and delivers every message it sends to the handlers."""

    def __init__(
        self,
        connection: dict[str, Any],
        *,
        session_id: str,
        on_iopub: Handler,
        on_shell: Handler,
        on_stdin: Handler,
    ) -> None:
        self.connection = connection
        self.session = Session(
            key=connection["key"].encode() if isinstance(connection["key"], str)
            else connection["key"],
            signature_scheme=connection.get("signature_scheme", "hmac-sha256"),
            session=session_id,
            username="dikte",
            check_pid=False,
        )
        self._handlers = {"iopub": on_iopub, "shell": on_shell, "stdin": on_stdin}
        self._ctx = zmq.asyncio.Context()
        self._sockets: dict[str, zmq.asyncio.Socket] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._waiters: dict[str, asyncio.Future[Message]] = {}
        self._markers: dict[str, asyncio.Event] = {}
        """iopub markers by token (see marker_seen), the last 256."""
        self._abandoned: dict[str, None] = {}
        """Requests given up on (their wait timed out), oldest first: a reply that comes later
        is nobody's, and the handlers never see it either."""
        self._iopub_seen: dict[str, asyncio.Event] = {}
        self._last_beat = 0.0

    def _socket(self, kind: int) -> zmq.asyncio.Socket:
        """A socket for the kernel: with CurveZMQ when the connection info carries a key pair
        (a kernel on another machine, reached through its relay; jupyter_client's convention:
        the client holds the same pair, the relay admits that public key alone)."""
        sock = self._ctx.socket(kind)
        sock.linger = 0
        public = self.connection.get("curve_publickey")
        if public:
            sock.curve_publickey = public.encode("ascii")
            sock.curve_secretkey = self.connection["curve_secretkey"].encode("ascii")
            sock.curve_serverkey = public.encode("ascii")
        return sock

    async def start(self) -> None:
        identity = self.session.bsession
        for name, kind in (("shell", zmq.DEALER), ("control", zmq.DEALER),
                           ("stdin", zmq.DEALER), ("iopub", zmq.SUB)):
            sock = self._socket(kind)
            if kind == zmq.DEALER:
                sock.setsockopt(zmq.IDENTITY, identity)
            else:
                sock.setsockopt(zmq.SUBSCRIBE, b"")
                sock.setsockopt(zmq.RCVHWM, IOPUB_QUEUE_MESSAGES)
            sock.connect(_url(self.connection, name))
            self._sockets[name] = sock
        for name in ("iopub", "shell", "control", "stdin"):
            self._tasks.append(asyncio.create_task(self._read(name), name=f"kernel-{name}"))
        self._last_beat = asyncio.get_running_loop().time()
        if "hb_port" in self.connection:
            self._tasks.append(asyncio.create_task(self._heartbeat(), name="kernel-hb"))

    def heartbeat_silence(self) -> float:
        """Seconds since the kernel last answered a heartbeat (or since the channel opened).

        The kernel answers from a thread of its own, so a cell that runs long still answers;
        silence means its process is stopped, frozen or gone."""
        return asyncio.get_running_loop().time() - self._last_beat

    async def _heartbeat(self, interval: float = HEARTBEAT_SECONDS) -> None:
        """Ping the heartbeat channel every ``interval``; a REQ socket that got no answer is
        replaced (it cannot send again before it receives)."""
        loop = asyncio.get_running_loop()
        sock: zmq.asyncio.Socket | None = None
        try:
            while True:
                if sock is None:
                    sock = self._socket(zmq.REQ)
                    sock.connect(_url(self.connection, "hb"))
                started = loop.time()
                await sock.send(b"ping")
                if await sock.poll(int(interval * 1000)):
                    await sock.recv()
                    self._last_beat = loop.time()
                    await asyncio.sleep(max(0.0, interval - (loop.time() - started)))
                else:
                    sock.close(linger=0)
                    sock = None
        finally:
            if sock is not None:
                sock.close(linger=0)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for sock in self._sockets.values():
            sock.close(linger=0)
        self._sockets.clear()
        self._ctx.term()
        for fut in self._waiters.values():
            if not fut.done():
                fut.cancel()

    async def _read(self, name: str) -> None:
        sock = self._sockets[name]
        while True:
            frames = await sock.recv_multipart(copy=True)
            try:
                _idents, parts = self.session.feed_identities(frames, copy=True)
                msg = self.session.deserialize(parts, content=True, copy=True)
            except Exception:  # a bad signature or frame; never stop reading
                log.warning("dropped an unreadable %s message", name, exc_info=True)
                continue
            parent_id = msg["parent_header"].get("msg_id", "")
            if name == "iopub" and msg["msg_type"] == "dikte_marker":
                self._marker(str(msg["content"].get("token", ""))).set()
                continue
            if name == "iopub" and parent_id in self._iopub_seen:
                self._iopub_seen[parent_id].set()
            waiter = self._waiters.pop(parent_id, None) if name in ("shell", "control") else None
            if waiter is not None and not waiter.done():
                waiter.set_result(msg)
                continue
            if name in ("shell", "control") and parent_id in self._abandoned:
                del self._abandoned[parent_id]  # came after its request was given up on
                continue
            handler = self._handlers.get(name)
            if handler is not None:
                try:
                    handler(msg)
                except Exception:
                    log.exception("error while handling a %s message", name)

    def _marker(self, token: str) -> asyncio.Event:
        event = self._markers.get(token)
        if event is None:
            event = asyncio.Event()
            _remember(self._markers, token, event)
        return event

    async def marker_seen(self, token: str, within: float = 5.0) -> bool:
        """Wait (``within`` seconds at most) until the kernel's iopub marker ``token`` has been
        read: every iopub message the kernel sent before it has been handled then (one socket,
        in order). Code asking the page for something publishes one first (google.colab's
        _channel), so the outputs it displayed before reach the page first."""
        try:
            await asyncio.wait_for(self._marker(token).wait(), within)
            return True
        except TimeoutError:
            return False
        finally:
            self._markers.pop(token, None)

    async def caught_up(self, within: float = 1.0) -> None:
        """Let the iopub reader handle every message already received (up to ``within``
        seconds). An HTTP request from the kernel and the iopub messages it sent before it can
        be ready at the same moment, and the request's handler may run first: code asking the
        page for something after displaying an output relies on that output going first."""
        sock = self._sockets.get("iopub")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            if sock is None or sock.closed or not int(sock.getsockopt(zmq.EVENTS)) & zmq.POLLIN:
                return
            await asyncio.sleep(0)  # one turn of the loop: the reader takes what is there

    def _send(self, channel: str, msg: Message) -> None:
        """Send through the asyncio socket itself. ``Session.send`` writes through a plain
        shadow of it, and such a send can take the edge-triggered "readable" signal of a reply
        arriving at that moment: the reader then sleeps with replies waiting, for good."""
        self._sockets[channel].send_multipart(self.session.serialize(msg))

    def send(self, channel: str, msg_type: str, content: dict[str, Any],
             metadata: dict[str, Any] | None = None) -> str:
        """Send a message; returns its msg_id."""
        msg = self.session.msg(msg_type, content, metadata=metadata)
        self._send(channel, msg)
        return str(msg["header"]["msg_id"])

    def comm_msg(self, comm_id: str, data: dict[str, Any], buffers: list[bytes]) -> str:
        """A message to a comm in the kernel (a widget's change), its binary buffers as extra
        frames after the message's own; returns its msg_id."""
        msg = self.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
        self._sockets["shell"].send_multipart([*self.session.serialize(msg), *buffers])
        return str(msg["header"]["msg_id"])

    def begin_request(self, channel: str, msg_type: str,
                      content: dict[str, Any]) -> tuple[str, asyncio.Future[Message]]:
        """Send a request; its reply resolves the future (the handlers never see it). The
        msg_id comes back before any reply or iopub message of it can be read."""
        msg = self.session.msg(msg_type, content)
        msg_id = str(msg["header"]["msg_id"])
        fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._waiters[msg_id] = fut
        self._send(channel, msg)
        return msg_id, fut

    async def request(self, channel: str, msg_type: str, content: dict[str, Any],
                      timeout: float) -> Message:
        """Send a request and wait for its reply (which the handlers then never see)."""
        msg_id, fut = self.begin_request(channel, msg_type, content)
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError as exc:
            raise KernelGone(f"no {msg_type} reply within {timeout:.0f} s") from exc
        finally:
            self._abandon(msg_id)

    def _abandon(self, msg_id: str) -> None:
        """Stop waiting for ``msg_id``'s reply; if it comes, drop it (the last 256 such)."""
        if self._waiters.pop(msg_id, None) is not None:  # still here: no reply yet
            _remember(self._abandoned, msg_id, None)

    def execute(self, code: str, *, allow_stdin: bool = True) -> str:
        msg_id, send = self.prepare_execute(code, allow_stdin=allow_stdin)
        send()
        return msg_id

    def prepare_execute(self, code: str, *,
                        allow_stdin: bool = True) -> tuple[str, Callable[[], None]]:
        """An execute request and its msg_id, sent only when the returned function is called:
        the caller records the msg_id first (a restarted server must know the cell may have
        reached the kernel, and never sends it again)."""
        msg = self.session.msg("execute_request", {
            "code": code, "silent": False, "store_history": True, "user_expressions": {},
            "allow_stdin": allow_stdin, "stop_on_error": True,
        })
        return str(msg["header"]["msg_id"]), lambda: self._send("shell", msg)

    def input_reply(self, value: str) -> None:
        self.send("stdin", "input_reply", {"value": value})

    async def interrupt(self, timeout: float = 10.0) -> None:
        await self.request("control", "interrupt_request", {}, timeout)

    async def wait_ready(self, timeout: float = 60.0) -> Message:
        """Wait until the kernel answers on shell and its iopub messages reach us.

        A SUB socket misses what is published before its subscription lands, so keep asking for
        kernel_info until the busy/idle status of one of those requests arrives on iopub. Any of
        them will do: asking again soon (a tenth of a second after a reply whose status has not
        come) costs the kernel little, and a status that comes late still counts.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen = asyncio.Event()
        asked: list[str] = []
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise KernelGone(f"the kernel did not become ready within {timeout:.0f} s")
                msg = self.session.msg("kernel_info_request", {})
                msg_id = msg["header"]["msg_id"]
                asked.append(msg_id)
                self._iopub_seen[msg_id] = seen
                fut: asyncio.Future[Message] = loop.create_future()
                self._waiters[msg_id] = fut
                self._send("shell", msg)
                try:
                    reply = await asyncio.wait_for(fut, min(remaining, 1.0))
                    await asyncio.wait_for(seen.wait(),
                                           min(max(deadline - loop.time(), 0.01), 0.1))
                    return reply
                except TimeoutError:
                    continue
                finally:
                    self._abandon(msg_id)
        finally:
            for msg_id in asked:
                self._iopub_seen.pop(msg_id, None)


def _remember(kept: dict[str, Any], key: str, value: Any, most: int = 256) -> None:
    """``kept[key] = value``, forgetting the oldest entries beyond ``most``."""
    kept[key] = value
    while len(kept) > most:
        del kept[next(iter(kept))]
