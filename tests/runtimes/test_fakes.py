"""The behavioural fakes behave as documented."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from dikte.errors import RuntimeUnavailable
from dikte.runtimes.base import Alive, RuntimeBackend, RuntimeSpec
from dikte.runtimes.fakes import FailingBackend, NeverStartingBackend, SlowBackend
from dikte.runtimes.unsandboxed import UnsandboxedBackend
from tests.runtimes.runtime_helpers import Runtimes, kernel


async def test_failing_backend_raises_its_reason(spec: Callable[..., RuntimeSpec],
                                                 drive: Path) -> None:
    backend = FailingBackend("No GPU is free right now.")
    assert isinstance(backend, RuntimeBackend)
    with pytest.raises(RuntimeUnavailable, match=r"No GPU is free right now\."):
        await backend.start(spec(drive))
    assert backend.attempts == 1


async def test_never_starting_backend_hangs_until_cancelled(
    spec: Callable[..., RuntimeSpec], drive: Path
) -> None:
    backend = NeverStartingBackend()
    task = asyncio.create_task(backend.start(spec(drive)))
    await backend.started.wait()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(task), 0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert backend.cancelled == 1


async def test_slow_backend_delegates_after_its_delay(
    spec: Callable[..., RuntimeSpec], drive: Path, data_dir: Path, runtimes: Runtimes,
    images: dict[str, str],
) -> None:
    backend = SlowBackend(UnsandboxedBackend(data_dir, images=images), delay=0.3)
    loop = asyncio.get_running_loop()
    began = loop.time()
    handle = await runtimes.start(backend, spec(drive))
    assert loop.time() - began >= 0.3
    assert await backend.poll(handle) == Alive()
    async with kernel(handle) as k:
        assert (await k.run("print(1 + 1)")).ok().strip() == "2"
