"""The kernel relay (a remote runtime's kernel over TCP, CurveZMQ, one client key) and the
runtime channel's tunnel (a node's socket carried over TLS to the control plane), with a real
ipykernel and real sockets, no cluster."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

from dikte.execution.kernel import KernelChannel
from dikte.runtimes import tunnel
from dikte.runtimes.relay import RelayHub, new_keypair
from tests.support.kernels import launched_kernel, lines_a_slow_reader_gets


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A kernel on node-local ipc sockets, started as a runtime's kernel is."""
    with launched_kernel(tmp_path) as (info, _):
        yield info


@pytest.fixture
def hub() -> AsyncIterator[RelayHub]:
    h = RelayHub("127.0.0.1", ports=(40000, 49000))
    yield h
    h.shutdown()


class Client:
    """A KernelChannel whose handlers gather what each execute printed and its reply."""

    def __init__(self, conn: dict[str, Any], answer: str = "") -> None:
        self.answer = answer
        self.text: list[str] = []
        self.replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.ch = KernelChannel(conn, session_id="relay-test", on_iopub=self._iopub,
                                on_shell=self._shell, on_stdin=self._stdin)

    def _iopub(self, msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream":
            self.text.append(msg["content"]["text"])

    def _shell(self, msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "execute_reply":
            self.replies.put_nowait(msg)

    def _stdin(self, msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "input_request":
            self.ch.send("stdin", "input_reply", {"value": self.answer})

    async def run(self, code: str) -> tuple[str, str]:
        """(status, text printed) of ``code``; the text once the kernel is idle again."""
        self.text.clear()
        self.ch.execute(code)
        reply = await asyncio.wait_for(self.replies.get(), 60)
        await asyncio.sleep(0.3)  # the last stream message may follow the reply
        return reply["content"]["status"], "".join(self.text)


async def test_a_relayed_kernel_runs_cells_and_answers_input(kernel: dict[str, Any],
                                                             hub: RelayHub) -> None:
    conn = hub.open("abcdefabcdef", kernel)
    assert conn["transport"] == "tcp" and conn["ip"] == "127.0.0.1"
    assert all(40000 <= conn[f"{c}_port"] < 49000 for c in ("shell", "iopub", "stdin",
                                                             "control", "hb"))
    assert conn["key"] == kernel["key"] and conn["curve_secretkey"]
    client = Client(conn, answer="ada")
    await client.ch.start()
    try:
        await client.ch.wait_ready(timeout=60)
        assert await client.run("print(6 * 7)") == ("ok", "42\n")
        assert await client.run("print('hi', input('name? '))") == ("ok", "hi ada\n")
        await asyncio.sleep(2.5)
        assert client.ch.heartbeat_silence() < 2.5  # the heartbeat crosses the relay too
    finally:
        await client.ch.close()


@pytest.mark.timeout(240)
async def test_output_waits_in_the_relay_while_the_control_plane_is_busy(
        kernel: dict[str, Any], hub: RelayHub) -> None:
    # The relay's own iopub sockets queued ZeroMQ's default of 1,000 messages, so a control
    # plane that fell behind a cell printing fast lost lines there, without a word.
    lines = 12_000  # the old queues (three on the way) let about 6,000 through
    got = await lines_a_slow_reader_gets(hub.open("abcdefabcdef", kernel), lines)
    assert got == "".join(f"line {i}\n" for i in range(lines)), \
        f"{got.count(chr(10))} of {lines} lines arrived"


async def test_without_the_runtimes_secret_key_nothing_is_read_or_sent(
        kernel: dict[str, Any], hub: RelayHub) -> None:
    conn = hub.open("abcdefabcdef", kernel)
    ctx = zmq.Context()
    pub, sec = new_keypair()
    socks = []
    try:
        for kind, channel in ((zmq.SUB, "iopub"), (zmq.DEALER, "shell"), (zmq.SUB, "iopub")):
            s = ctx.socket(kind)
            s.linger = 0
            if len(socks) < 2:  # knows the relay's public key, holds another secret
                s.curve_publickey, s.curve_secretkey = pub.encode(), sec.encode()
                s.curve_serverkey = conn["curve_publickey"].encode()
            if kind == zmq.SUB:  # the third: no CurveZMQ at all
                s.setsockopt(zmq.SUBSCRIBE, b"")
            s.connect(f"tcp://127.0.0.1:{conn[f'{channel}_port']}")
            socks.append(s)
        socks[1].send_multipart([b"<IDS|MSG>", b"", b"{}", b"{}", b"{}", b"{}"])
        client = Client(conn)
        await client.ch.start()
        try:
            await client.ch.wait_ready(timeout=60)
            assert await client.run("print('secret')") == ("ok", "secret\n")
        finally:
            await client.ch.close()
        got = [s.recv_multipart() for s in socks if s.poll(500)]
        assert got == []
    finally:
        for s in socks:
            s.close(linger=0)
        ctx.term()


async def test_a_closed_relay_forgets_its_key_and_its_ports(kernel: dict[str, Any],
                                                            hub: RelayHub) -> None:
    conn = hub.open("abcdefabcdef", kernel)
    hub.close("abcdefabcdef")
    assert "abcdefabcdef" not in hub.relays
    client = Client(conn)
    await client.ch.start()
    try:
        with pytest.raises(Exception, match="did not become ready"):
            await client.ch.wait_ready(timeout=3)
    finally:
        await client.ch.close()


async def test_the_tunnel_carries_a_nodes_connection_to_the_control_socket(
        tmp_path: Path) -> None:
    import socket

    control = tmp_path / "control.sock"

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"control plane got: " + await reader.readline())
        await writer.drain()
        writer.close()

    inner = await asyncio.start_unix_server(echo, str(control))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = await tunnel.serve_channel_port(sock, tmp_path / "cluster", control)
    cert = (tmp_path / "cluster" / "channel.crt").read_text()
    node = tunnel.NodeChannel(tmp_path / "node" / "control.sock")
    await node.point_at(f"127.0.0.1:{sock.getsockname()[1]}", cert)
    try:
        reader, writer = await asyncio.open_unix_connection(str(tmp_path / "node" / "control.sock"))
        writer.write(b"hello\n")
        await writer.drain()
        assert await reader.read() == b"control plane got: hello\n"
        writer.close()
        # a node that trusts another certificate refuses to talk to this control plane
        other = tunnel.certificate(tmp_path / "elsewhere")[0].read_text()
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=other)
        with pytest.raises(ssl.SSLError):
            await asyncio.open_connection("127.0.0.1", sock.getsockname()[1], ssl=ctx,
                                          server_hostname=tunnel.SERVER_NAME)
    finally:
        await node.close()
        port.close()
        inner.close()
