"""Talking to a runtime's kernel from tests.

``kernel(handle)`` is an async context manager yielding a :class:`Kernel` (after ``kernel_info``
answered) whose ``run(code)`` executes a cell and returns a :class:`Cell`; ``wait_exited(backend,
handle)`` polls until the kernel has ended.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.asynchronous.client import AsyncKernelClient

from dikte.runtimes.base import Exited, RuntimeBackend, RuntimeHandle, RuntimeSpec

UID_BASE = 600000


@dataclass
class Cell:
    status: str
    stdout: str = ""
    stderr: str = ""
    error: str = ""

    def ok(self) -> str:
        assert self.status == "ok", f"cell failed: {self.error}\n{self.stderr}"
        return self.stdout


class Kernel:
    def __init__(self, client: AsyncKernelClient) -> None:
        self.client = client

    async def run(self, code: str, within: float = 60) -> Cell:
        cell = Cell(status="")

        def hook(msg: dict[str, Any]) -> None:
            kind, content = msg["header"]["msg_type"], msg["content"]
            if kind == "stream":
                if content["name"] == "stdout":
                    cell.stdout += content["text"]
                else:
                    cell.stderr += content["text"]
            elif kind == "error":
                cell.error = f"{content['ename']}: {content['evalue']}"

        reply = await self.client.execute_interactive(code, output_hook=hook, timeout=within)
        cell.status = reply["content"]["status"]
        return cell


@asynccontextmanager
async def kernel(handle: RuntimeHandle) -> AsyncIterator[Kernel]:
    client = AsyncKernelClient()
    client.load_connection_info(handle.connection)
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=60)
        yield Kernel(client)
    finally:
        client.stop_channels()
        client.context.destroy(linger=0)


async def wait_exited(backend: RuntimeBackend, handle: RuntimeHandle, within: float = 60) -> Exited:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        status = await backend.poll(handle)
        if isinstance(status, Exited):
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"runtime {handle.runtime_id} still alive after {within}s")


@dataclass
class Runtimes:
    started: list[tuple[RuntimeBackend, RuntimeHandle]] = field(default_factory=list)

    async def start(self, backend: RuntimeBackend, spec: RuntimeSpec) -> RuntimeHandle:
        handle = await backend.start(spec)
        self.started.append((backend, handle))
        return handle


def gone(*paths: str | os.PathLike[str]) -> bool:
    """None of ``paths`` exists (a sync helper, so async tests may call it)."""
    return not any(os.path.lexists(p) for p in paths)
