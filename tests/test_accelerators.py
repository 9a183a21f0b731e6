"""The allocator and the fair queue: who gets which accelerator, and who waits in what order."""

from __future__ import annotations

from pathlib import Path

import pytest

from dikte.accelerators import bind_nodes, masked_paths, merge, visible_env
from dikte.accelerators.model import Allocator, Device, FairQueue, Waiting, shape_request
from dikte.accelerators.nvml import short_type
from dikte.config import AcceleratorConfig
from dikte.runtimes.devices import declared as declared_device


def t4s(n: int = 2) -> list[Device]:
    return [Device(f"GPU-t4-{i}", "T4", index=i, visible_id=f"GPU-t4-{i}",
                   nodes=(f"/dev/nvidia{i}",)) for i in range(n)]


@pytest.mark.parametrize(("shape", "want"), [
    ("T4", ("T4", 1)), ("2xA100", ("A100", 2)), ("A100-40g", ("A100-40g", 1)),
    ("standard", ("standard", 1)), ("0xT4", ("0xT4", 1)),
])
def test_shape_request(shape: str, want: tuple[str, int]) -> None:
    assert shape_request(shape) == want


def test_two_runtimes_never_share_a_device() -> None:
    a = Allocator.of(t4s(2))
    first, second = a.allocate("r1", "T4"), a.allocate("r2", "T4")
    assert first is not None and second is not None
    assert {d.id for d in first}.isdisjoint({d.id for d in second})
    assert a.allocate("r3", "T4") is None
    assert a.release("r1") == first
    third = a.allocate("r3", "T4")
    assert third == first


def test_shared_devices_take_several_runtimes_and_reserved_ones_none() -> None:
    a = Allocator.of([Device("s", "L4", shared=True), Device("r", "L4", reserved=True)])
    assert a.types() == {"L4": 1}
    got = [a.allocate(f"r{i}", "L4") for i in range(3)]
    assert all(g is not None and [d.id for d in g] == ["s"] for g in got)
    assert a.holders["s"] == {"r0", "r1", "r2"}


def test_a_multi_device_shape_gets_all_or_nothing() -> None:
    a = Allocator.of(t4s(3))
    assert a.allocate("one", "T4") is not None
    two = a.allocate("two", "2xT4")
    assert two is not None and len({d.id for d in two}) == 2
    assert a.allocate("more", "2xT4") is None
    assert "more" not in {r for who in a.holders.values() for r in who}


def test_restore_after_a_restart_skips_devices_that_are_gone() -> None:
    a = Allocator.of(t4s(1))
    assert [d.id for d in a.restore("r1", ["GPU-t4-0", "GPU-gone"])] == ["GPU-t4-0"]
    assert a.allocate("r2", "T4") is None


def test_queue_orders_by_tier_priority_then_arrival() -> None:
    q = FairQueue()
    q.add(Waiting("free-early", 1, "T4", 0, 10.0))
    q.add(Waiting("pro-late", 2, "T4", 1, 20.0))
    q.add(Waiting("free-late", 3, "T4", 0, 30.0))
    q.add(Waiting("a100", 4, "A100", 0, 5.0))
    assert [w.key for w in q.ordered("T4")] == ["pro-late", "free-early", "free-late"]
    assert q.position("pro-late") == 1 and q.position("free-late") == 3
    assert q.position("a100") == 1  # lines are per type
    q.remove("pro-late")
    assert q.position("free-early") == 1 and q.position("nobody") is None
    with pytest.raises(ValueError):
        q.add(Waiting("free-early", 1, "T4", 0, 40.0))


def test_the_head_of_a_line_is_never_overtaken() -> None:
    a = Allocator.of(t4s(2))
    a.allocate("running", "T4")
    q = FairQueue()
    q.add(Waiting("needs-two", 1, "2xT4", 0, 1.0))
    q.add(Waiting("needs-one", 2, "T4", 0, 2.0))
    # one T4 is free, but the first in line needs two: nobody jumps ahead
    assert q.grantable(a) == []
    a.release("running")
    assert [w.key for w in q.grantable(a)] == ["needs-two"]
    assert a.holders.keys() == set()  # grantable() only looks


def test_declared_devices_regroup_discovered_ones_and_add_others() -> None:
    found = [Device("GPU-1", "A100", model="NVIDIA A100-SXM4-80GB", nodes=("/dev/nvidia0",))]
    declared = [AcceleratorConfig(id="GPU-1", type="big", shared=True),
                AcceleratorConfig(id="fpga0", type="FPGA", nodes=["/tmp/x:/dev/fpga0"])]
    devices = merge(found, [declared_device(c) for c in declared])
    assert [(d.id, d.type, d.shared) for d in devices] == [("GPU-1", "big", True),
                                                          ("fpga0", "FPGA", False)]
    assert devices[0].nodes == ("/dev/nvidia0",) and devices[0].model.startswith("NVIDIA A100")
    assert bind_nodes(devices[1:]) == [("/tmp/x", "/dev/fpga0")]
    env = visible_env(devices[:1])
    assert env["CUDA_VISIBLE_DEVICES"] == env["NVIDIA_VISIBLE_DEVICES"] == "GPU-1"


def test_other_gpus_proc_entries_are_masked_never_ones_own(tmp_path: Path) -> None:
    mine = Device("a", "T4", bus_id="0000:01:00.0")
    other = Device("b", "T4", bus_id="0000:02:00.0")
    gone = Device("c", "T4", bus_id="0000:03:00.0")
    for d in (mine, other):
        (tmp_path / d.bus_id).mkdir()
    assert masked_paths([mine, other, gone], [mine], proc=str(tmp_path)) == [
        "/proc/driver/nvidia/gpus/0000:02:00.0"]
    assert masked_paths([mine, other], [mine, other], proc=str(tmp_path)) == []


@pytest.mark.parametrize(("model", "want"), [
    ("Tesla T4", "T4"), ("NVIDIA A100-SXM4-80GB", "A100"), ("NVIDIA H100 80GB HBM3", "H100"),
    ("NVIDIA L4", "L4"), ("NVIDIA L40S", "L40S"), ("NVIDIA GeForce RTX 4090", "GeForce-RTX-4090"),
])
def test_model_names_become_short_types(model: str, want: str) -> None:
    assert short_type(model) == want


async def test_a_cluster_node_that_joins_serves_the_line_and_one_that_goes_is_offered_no_more(
        ) -> None:
    from dikte.control.accelerators import AcceleratorService

    a = Device(id="node1/gpu0", type="T4", node="node1")
    b = Device(id="node2/gpu0", type="T4", node="node2")
    service = AcceleratorService([a])
    assert service.try_allocate("rt1", "T4") == [a]
    waiting = service.enqueue("rt2", 1, "T4", 0)
    assert not waiting.done()
    service.update([a, b])  # node2 joined
    assert waiting.result() == [b] and service.types() == {"T4": 2}
    service.update([b])  # node1 went; rt1 still holds its device until it ends
    assert service.types() == {"T4": 2}
    service.end("rt1")
    service.update([b])
    assert service.types() == {"T4": 1}
    with pytest.raises(Exception, match="too few"):
        service.check_offered("2xT4")
