"""Turns at starting a runtime: no more starts at once than the machine can do, one person's
after another's.

A burst of connects started all at once shares the CPUs between every kernel, so nobody is
served until everybody is. With a bounded number of starts at once, runtimes become ready one
after another and each answer goes out as its runtime is ready. Whose turn comes next is fair
between people: the waiting person with the fewest starts under way goes first (the earliest
of them on a tie), so one person's ten connects do not hold up everyone else. The pool's
refills (``person_id`` None) only start when no person waits, and one at a time.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

POOL = None
"""The ``person_id`` of a start for the pool of pre-started runtimes."""


@dataclass(order=True)
class _Waiter:
    order: int
    person_id: int | None = field(compare=False)
    granted: asyncio.Future[None] = field(compare=False)


class StartGate:
    def __init__(self, slots: int) -> None:
        self.slots = max(1, slots)
        self._running: Counter[int | None] = Counter()
        self._waiting: list[_Waiter] = []
        self._order = itertools.count()

    @property
    def running(self) -> int:
        return sum(self._running.values())

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @asynccontextmanager
    async def turn(self, person_id: int | None) -> AsyncIterator[None]:
        """Wait for a turn to start a runtime for ``person_id`` (:data:`POOL` for a refill);
        the turn ends when the block does."""
        waiter = _Waiter(next(self._order), person_id,
                         asyncio.get_running_loop().create_future())
        self._waiting.append(waiter)
        self._grant()
        try:
            await waiter.granted
        except BaseException:
            if waiter in self._waiting:
                self._waiting.remove(waiter)
            elif waiter.granted.done() and not waiter.granted.cancelled():
                self._release(person_id)  # granted just as it was cancelled
            raise
        try:
            yield
        finally:
            self._release(person_id)

    def _release(self, person_id: int | None) -> None:
        self._running[person_id] -= 1
        if self._running[person_id] <= 0:
            del self._running[person_id]
        self._grant()

    def _next(self) -> _Waiter | None:
        people = [w for w in self._waiting if w.person_id is not POOL]
        if people:
            return min(people, key=lambda w: (self._running[w.person_id], w.order))
        if self._waiting and self._running[POOL] == 0:
            return min(self._waiting)
        return None

    def _grant(self) -> None:
        while self.running < self.slots:
            waiter = self._next()
            if waiter is None:
                return
            self._waiting.remove(waiter)
            if waiter.granted.done():  # cancelled meanwhile
                continue
            self._running[waiter.person_id] += 1
            waiter.granted.set_result(None)
