"""A kernel of this environment started as a runtime's kernel is (``dikte/kernel/launch.py``,
no sandbox), and a check that every line a cell prints reaches a reader that takes nothing until
the cell ends."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import zmq

from dikte.execution.kernel import KernelChannel, _url
from dikte.runtimes.instance import new_connection, write_connection_file
from dikte.runtimes.sandbox import KERNEL_HELPERS


@contextmanager
def launched_kernel(folder: Path) -> Iterator[tuple[dict[str, Any], subprocess.Popen[bytes]]]:
    """(connection info over ipc sockets in ``folder``, the kernel's process); killed at exit."""
    info, _ = new_connection(str(folder / "kernel"), "")
    write_connection_file(folder / "kernel.json", info, None)
    with open(folder / "kernel.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, str(KERNEL_HELPERS / "launch.py"), "-f",
                                 str(folder / "kernel.json")], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        yield info, proc
    finally:
        proc.kill()
        proc.wait()


async def lines_a_slow_reader_gets(conn: dict[str, Any], lines: int) -> str:
    """What a cell printing ``lines`` lines as fast as it can sends on iopub, as read by a
    subscriber whose side queues one message and which reads nothing until the cell is done
    (another reader, ``KernelChannel``, runs the cell and sees it end). Whatever did not fit in
    the queues on the way was dropped, so the text comes back shorter."""
    idle: asyncio.Queue[str] = asyncio.Queue()

    def on_iopub(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            idle.put_nowait(msg["parent_header"].get("msg_id", ""))

    channel = KernelChannel(conn, session_id="abcdefabcdef", on_iopub=on_iopub,
                            on_shell=lambda m: None, on_stdin=lambda m: None)
    slow = channel._socket(zmq.SUB)  # with the runtime's CurveZMQ keys where it has them
    slow.setsockopt(zmq.RCVHWM, 1)
    slow.setsockopt(zmq.SUBSCRIBE, b"")
    slow.connect(_url(conn, "iopub"))
    await channel.start()
    loop = asyncio.get_running_loop()
    try:
        await channel.wait_ready(60)
        deadline = loop.time() + 60
        while not await slow.poll(0):  # until the slow reader's subscription has landed
            assert loop.time() < deadline, "the slow reader never got a message"
            probe = channel.execute("pass")
            while await idle.get() != probe:
                pass
        while await slow.poll(100):
            await slow.recv_multipart()
        cell = channel.execute(f"for i in range({lines}):\n    print('line', i, flush=True)")
        while await idle.get() != cell:
            pass
        text: list[str] = []
        deadline = loop.time() + 120
        while loop.time() < deadline and await slow.poll(10_000):
            msg = _parse(await slow.recv_multipart())
            if msg["parent_header"].get("msg_id") != cell:
                continue
            if msg["header"]["msg_type"] == "stream":
                text.append(msg["content"]["text"])
            if msg["header"]["msg_type"] == "status" and \
                    msg["content"]["execution_state"] == "idle":
                break
        return "".join(text)
    finally:
        slow.close(linger=0)
        await channel.close()


def _parse(frames: list[bytes]) -> dict[str, Any]:
    """A Jupyter message's header, parent header and content from its wire frames."""
    at = frames.index(b"<IDS|MSG>")
    header, parent, _metadata, content = (json.loads(f) for f in frames[at + 2:at + 6])
    return {"header": header, "parent_header": parent, "content": content}
