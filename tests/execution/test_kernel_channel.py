"""The kernel client against a real ipykernel: every reply reaches its reader."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dikte.execution.kernel import KernelChannel
from dikte.runtimes.instance import new_connection, write_connection_file


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Connection info of a plain ipykernel of this environment (no sandbox: this is about the
    client), over ipc sockets in tmp_path."""
    info, _ = new_connection(str(tmp_path / "kernel"), "")
    write_connection_file(tmp_path / "kernel.json", info, None)
    with open(tmp_path / "kernel.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "ipykernel_launcher", "-f",
                                 str(tmp_path / "kernel.json")], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        yield info
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.timeout(120)
async def test_replies_keep_coming_while_the_queue_sends_cell_after_cell(
        kernel: dict[str, Any]) -> None:
    # The queue sends the next cell as the previous one's idle status arrives, so a reply often
    # lands while a request goes out on the same socket. A send that took the socket's
    # edge-triggered "readable" signal left every later reply unread: a JavaScript callback,
    # which waits for its reply, never got an answer.
    idle: asyncio.Queue[str] = asyncio.Queue()
    replies: list[dict[str, Any]] = []

    def on_iopub(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            idle.put_nowait(msg["parent_header"].get("msg_id", ""))

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
    info, _ = new_connection(str(tmp_path / "kernel"), "")
    write_connection_file(tmp_path / "kernel.json", info, None)
    with open(tmp_path / "kernel.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "ipykernel_launcher", "-f",
                                 str(tmp_path / "kernel.json")], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        yield info, proc
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
        proc.wait()


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
