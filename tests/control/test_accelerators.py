"""The accelerator line of control/accelerators.py: who waits, who gets a freed device, and
leaving the line."""

from __future__ import annotations

import pytest

from dikte.accelerators.model import Device
from dikte.control.accelerators import AcceleratorService, Cancelled

T4 = Device("gpu-0", "T4", model="Tesla T4")


async def test_a_second_request_waits_first_in_line_and_gets_the_device_when_it_frees() -> None:
    service = AcceleratorService([T4])
    assert service.try_allocate("r1", "T4") == [T4]
    assert service.try_allocate("r2", "T4") is None

    grant = service.enqueue("r2", 2, "T4", priority=0)
    assert service.position("r2") == 1 and not grant.done()

    service.end("r1")

    assert grant.done() and grant.result() == [T4]
    assert service.held_by("r2") == [T4] and service.position("r2") is None


async def test_leaving_the_line_cancels_the_wait_and_the_next_moves_up() -> None:
    service = AcceleratorService([T4])
    service.try_allocate("r1", "T4")
    leaving = service.enqueue("r2", 2, "T4", priority=0)
    staying = service.enqueue("r3", 3, "T4", priority=0)
    assert (service.position("r2"), service.position("r3")) == (1, 2)

    service.end("r2")

    assert leaving.done()
    with pytest.raises(Cancelled):
        leaving.result()
    assert (service.position("r2"), service.position("r3")) == (None, 1)
    service.end("r1")
    assert staying.done() and staying.result() == [T4]
    assert service.held_by("r2") == []


async def test_a_device_a_reattached_runtime_holds_is_not_offered_when_its_node_answers_late() -> None:
    node_t4 = Device("node1/gpu-0", "T4", model="Tesla T4", node="node1")
    service = AcceleratorService([])  # at start-up node1 did not answer in time
    assert service.restore("r1", [node_t4.id]) == []

    service.update([node_t4])  # node1 is listed at the next refresh

    assert service.held_by("r1") == [node_t4]
    assert service.try_allocate("r2", "T4") is None  # ...and nobody else gets it
    grant = service.enqueue("r2", 2, "T4", priority=0)
    service.end("r1")
    assert grant.done() and grant.result() == [node_t4]


async def test_a_reattached_runtime_that_ends_before_its_node_answers_holds_nothing() -> None:
    node_t4 = Device("node1/gpu-0", "T4", model="Tesla T4", node="node1")
    service = AcceleratorService([])
    service.restore("r1", [node_t4.id])
    service.end("r1")

    service.update([node_t4])

    assert service.held_by("r1") == [] and service.try_allocate("r2", "T4") == [node_t4]
