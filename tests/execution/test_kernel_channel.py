"""The kernel client against a real ipykernel, started as runtimes start it
(``dikte/kernel/launch.py``): every reply and every output reaches its reader."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dikte.execution.kernel import KernelChannel, KernelGone
from tests.support.kernels import launched_kernel, lines_a_slow_reader_gets


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Connection info of a kernel of this environment started as a runtime's is (no sandbox:
    this is about the channel), over ipc sockets in tmp_path."""
    with launched_kernel(tmp_path) as (info, _):
        yield info


def idle_statuses() -> tuple[asyncio.Queue[str], Callable[[dict[str, Any]], None]]:
    """A queue of the msg_ids whose idle status arrived, and the iopub handler that fills it."""
    idle: asyncio.Queue[str] = asyncio.Queue()

    def on_iopub(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            idle.put_nowait(msg["parent_header"].get("msg_id", ""))

    return idle, on_iopub


@pytest.mark.timeout(120)
async def test_replies_keep_coming_while_the_queue_sends_cell_after_cell(
        kernel: dict[str, Any]) -> None:
    # The queue sends the next cell as the previous one's idle status arrives, so a reply often
    # lands while a request goes out on the same socket. A send that took the socket's
    # edge-triggered "readable" signal left every later reply unread: a JavaScript callback,
    # which waits for its reply, never got an answer.
    idle, on_iopub = idle_statuses()
    replies: list[dict[str, Any]] = []
    channel = KernelChannel(kernel, session_id="abcdefabcdef", on_iopub=on_iopub,
                            on_shell=replies.append, on_stdin=lambda m: None)
    await channel.start()
    try:
        await channel.wait_ready(60)
        for i in range(400):
            msg_id = channel.execute(f"print({i})")
            while await idle.get() != msg_id:
                pass
        last = await channel.request("shell", "kernel_info_request", {}, timeout=10)
        assert last["msg_type"] == "kernel_info_reply"
        assert [r["msg_type"] for r in replies] == ["execute_reply"] * 400
    finally:
        await channel.close()


@pytest.fixture
def kernel_process(tmp_path: Path) -> Iterator[tuple[dict[str, Any], subprocess.Popen[bytes]]]:
    """Like ``kernel``, with its process (to stop and continue it)."""
    with launched_kernel(tmp_path) as (info, proc):
        try:
            yield info, proc
        finally:
            proc.send_signal(signal.SIGCONT)


async def _until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the condition never held"
        await asyncio.sleep(0.1)


@pytest.mark.timeout(120)
async def test_the_heartbeat_notices_a_stopped_kernel_and_its_return(
        kernel_process: tuple[dict[str, Any], subprocess.Popen[bytes]]) -> None:
    # The heartbeat channel was never connected: a kernel stopped (SIGSTOP) or frozen looked
    # like one running a long cell, for ever (issue 11, item 13).
    info, proc = kernel_process
    channel = KernelChannel(info, session_id="abcdefabcdef", on_iopub=lambda m: None,
                            on_shell=lambda m: None, on_stdin=lambda m: None)
    await channel.start()
    try:
        await channel.wait_ready(60)
        await _until(lambda: channel.heartbeat_silence() < 1.0, 10)
        proc.send_signal(signal.SIGSTOP)
        await _until(lambda: channel.heartbeat_silence() > 3.0, 30)
        proc.send_signal(signal.SIGCONT)
        await _until(lambda: channel.heartbeat_silence() < 1.0, 30)
    finally:
        await channel.close()



@pytest.mark.timeout(120)
async def test_a_reply_that_comes_after_its_request_was_given_up_on_goes_nowhere(
        kernel_process: tuple[dict[str, Any], subprocess.Popen[bytes]]) -> None:
    # A kernel slower than wait_ready's second (a loaded machine) answered a kernel_info
    # request it had stopped waiting for: the reply went to the shell handler, where the
    # notebook's code expects replies to its own requests only.
    info, proc = kernel_process
    replies: list[dict[str, Any]] = []
    idle, on_iopub = idle_statuses()
    channel = KernelChannel(info, session_id="abcdefabcdef", on_iopub=on_iopub,
                            on_shell=replies.append, on_stdin=lambda m: None)
    await channel.start()
    try:
        await channel.wait_ready(60)
        proc.send_signal(signal.SIGSTOP)
        with pytest.raises(KernelGone):
            await channel.request("shell", "kernel_info_request", {}, timeout=0.5)
        proc.send_signal(signal.SIGCONT)
        cell = channel.execute("print('after')")  # answered after the late kernel_info reply
        while await idle.get() != cell:
            pass
        await _until(lambda: bool(replies), 30)
        assert [r["msg_type"] for r in replies] == ["execute_reply"]
    finally:
        await channel.close()


@pytest.mark.timeout(120)
async def test_an_iopub_marker_is_seen_after_the_outputs_before_it_and_handled_by_no_one(
        kernel: dict[str, Any]) -> None:
    # Code asking the page for something (eval_js) publishes a marker on iopub, and the server
    # opens the request once it has read it: the outputs the cell displayed before it (a
    # function eval_js calls) then reach the page first.
    seen: list[str] = []

    def on_iopub(msg: dict[str, Any]) -> None:
        seen.append(msg["msg_type"])
        if msg["msg_type"] == "stream":
            seen.append(msg["content"]["text"])

    channel = KernelChannel(kernel, session_id="abcdefabcdef", on_iopub=on_iopub,
                            on_shell=lambda m: None, on_stdin=lambda m: None)
    await channel.start()
    try:
        await channel.wait_ready(60)
        channel.execute(
            "print('before the marker', flush=True)\n"
            "k = get_ipython().kernel\n"
            "k.session.send(k.iopub_socket, 'dikte_marker', {'token': 'm-1'}, "
            "parent=k.get_parent('shell'), ident=b'dikte_marker')")
        assert await channel.marker_seen("m-1", within=60)
        assert "before the marker\n" in seen  # handled before the marker was
        assert "dikte_marker" not in seen
        assert not await channel.marker_seen("never-sent", within=0.2)
    finally:
        await channel.close()


@pytest.mark.timeout(240)
async def test_output_waits_in_the_kernel_while_its_reader_is_busy(
        kernel: dict[str, Any]) -> None:
    # A cell printing fast while the server was busy lost a run of lines in the middle of its
    # output: the kernel's iopub socket queued 1,000 messages (ZeroMQ's default) for a reader
    # that had not taken them yet, then dropped the rest without a word. The kernel now keeps
    # them until the reader takes them.
    lines = 5_000  # the old queue let about 1,000 through
    got = await lines_a_slow_reader_gets(kernel, lines)
    assert got == "".join(f"line {i}\n" for i in range(lines)), \
        f"{got.count(chr(10))} of {lines} lines arrived"


@pytest.mark.timeout(120)
async def test_the_kernel_starts_without_its_debugger_and_then_collects_garbage_as_ever(
        kernel: dict[str, Any]) -> None:
    # Start-up rests the garbage collector and leaves ipykernel's debugger (debugpy) out, a
    # fifth of a kernel's start between them; afterwards a cell finds both as in any kernel.
    out: list[str] = []
    idle: asyncio.Queue[str] = asyncio.Queue()

    def on_iopub(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            idle.put_nowait(msg["parent_header"].get("msg_id", ""))

    channel = KernelChannel(kernel, session_id="abcdefabcdef", on_iopub=on_iopub,
                            on_shell=lambda m: None, on_stdin=lambda m: None)
    await channel.start()
    try:
        info = await channel.wait_ready(60)
        assert "debugger" not in info["content"]["supported_features"]
        cell = channel.execute("import gc, debugpy\nprint(gc.isenabled(), gc.get_freeze_count() > "
                               "10000, hasattr(debugpy, 'listen'))")
        while await idle.get() != cell:
            pass
        assert "".join(out) == "True True True\n"
    finally:
        await channel.close()
