"""Turns at starting runtimes (control/starts.py): bounded, fair between people, the pool last."""

from __future__ import annotations

import asyncio

import pytest

from dikte.control.starts import POOL, StartGate


class Starts:
    """Starts that take their turn and hold it until the test ends them."""

    def __init__(self, gate: StartGate) -> None:
        self.gate = gate
        self.began: list[str] = []
        self._ends: dict[str, asyncio.Event] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def ask(self, name: str, person_id: int | None) -> None:
        self._ends[name] = asyncio.Event()

        async def start() -> None:
            async with self.gate.turn(person_id):
                self.began.append(name)
                await self._ends[name].wait()

        self.tasks[name] = asyncio.create_task(start())

    async def settle(self) -> None:
        for _ in range(5):
            await asyncio.sleep(0)

    async def end(self, name: str) -> None:
        self._ends[name].set()
        await self.tasks[name]
        await self.settle()


async def test_starts_beyond_the_slots_wait_and_the_next_person_goes_before_a_second_start(
) -> None:
    starts = Starts(StartGate(2))
    for i in range(4):
        starts.ask(f"a{i}", 1)  # one person asks for four...
    starts.ask("b0", 2)  # ...then another for one
    await starts.settle()
    assert starts.began == ["a0", "a1"]
    assert (starts.gate.running, starts.gate.waiting) == (2, 3)

    await starts.end("a0")
    assert starts.began == ["a0", "a1", "b0"]  # b has none under way: b first
    await starts.end("a1")
    await starts.end("b0")
    assert starts.began == ["a0", "a1", "b0", "a2", "a3"]
    await starts.end("a2")
    await starts.end("a3")
    assert (starts.gate.running, starts.gate.waiting) == (0, 0)


async def test_the_pool_refills_only_when_nobody_waits_and_one_at_a_time() -> None:
    starts = Starts(StartGate(2))
    starts.ask("p0", POOL)
    starts.ask("p1", POOL)
    await starts.settle()
    assert starts.began == ["p0"]  # one refill at once, a slot left for people
    starts.ask("a0", 1)
    starts.ask("a1", 1)
    await starts.settle()
    assert starts.began == ["p0", "a0"]
    await starts.end("p0")
    assert starts.began == ["p0", "a0", "a1"]  # the person before the pool's second
    await starts.end("a0")
    assert starts.began == ["p0", "a0", "a1", "p1"]
    await starts.end("a1")
    await starts.end("p1")


async def test_a_start_cancelled_while_waiting_gives_its_place_to_the_next() -> None:
    starts = Starts(StartGate(1))
    starts.ask("a0", 1)
    starts.ask("b0", 2)
    starts.ask("c0", 3)
    await starts.settle()
    starts.tasks["b0"].cancel()
    with pytest.raises(asyncio.CancelledError):
        await starts.tasks["b0"]
    await starts.end("a0")
    assert starts.began == ["a0", "c0"]
    await starts.end("c0")
    assert (starts.gate.running, starts.gate.waiting) == (0, 0)
