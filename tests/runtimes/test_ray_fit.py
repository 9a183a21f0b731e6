"""Which runtimes no machine of a Ray cluster could ever hold (dikte.runtimes.ray.fit), against
node lists shaped as ``ray.nodes()`` gives them."""

from __future__ import annotations

from typing import Any

from dikte.runtimes.ray.actors import RUNTIME_RESOURCE, node_resource
from dikte.runtimes.ray.fit import never_fits

GiB = 2**30


def node(name: str, memory: float, cpus: float = 2, gpus: float = 0, alive: bool = True,
         runtimes: float = 10) -> dict[str, Any]:
    resources = {"CPU": cpus, "memory": memory, node_resource(name): 1.0}
    if runtimes:
        resources[RUNTIME_RESOURCE] = runtimes
    if gpus:
        resources["GPU"] = gpus
    return {"NodeID": name, "Alive": alive, "Resources": resources}


def bundle(memory: float, cpus: float = 1, gpus: float = 0, on: str = "") -> dict[str, float]:
    out = {RUNTIME_RESOURCE: 1.0, "memory": memory, "CPU": cpus}
    if gpus:
        out["GPU"] = gpus
    if on:
        out[node_resource(on)] = 0.001
    return out


CLUSTER = [node("head", 8 * GiB, runtimes=0), node("node1", 4 * GiB, gpus=1),
           node("node2", 6 * GiB)]


def test_a_runtime_some_machine_could_hold_fits_even_when_none_has_room_now() -> None:
    assert never_fits(bundle(6 * GiB), CLUSTER) is None
    assert never_fits(bundle(2 * GiB, cpus=2), CLUSTER) is None
    assert never_fits(bundle(4 * GiB, gpus=1, on="node1"), CLUSTER) is None


def test_more_ram_than_any_machine_that_takes_runtimes_is_named() -> None:
    # the head has 8 GiB but takes no runtimes: it does not count
    misfit = never_fits(bundle(12 * GiB), CLUSTER)
    assert misfit is not None
    assert misfit.message == (
        "This runtime cannot start: it needs 12 GiB of RAM and the largest machine in the "
        "cluster has 6 GiB of RAM. Ask your administrator to lower what this runtime type asks for, "
        "or to add a larger machine to the cluster.")
    assert "ray_autoscaling" in misfit.log_message and "runtime_memory" in misfit.log_message


def test_cpus_gpus_and_the_pinned_machine_are_each_checked() -> None:
    too_many_cpus = never_fits(bundle(GiB, cpus=4), CLUSTER)
    assert too_many_cpus is not None and "needs 4 CPUs" in too_many_cpus.message
    assert "has 2 CPUs" in too_many_cpus.message
    two_gpus = never_fits(bundle(GiB, gpus=2, on="node1"), CLUSTER)
    assert two_gpus is not None and "needs 2 GPUs and the largest machine" in two_gpus.message
    # pinned to node1 (its accelerators): node2's 6 GiB do not help
    pinned = never_fits(bundle(5 * GiB, gpus=1, on="node1"), CLUSTER)
    assert pinned is not None and "has 4 GiB of RAM" in pinned.message
    gone = never_fits(bundle(GiB, gpus=1, on="node3"), CLUSTER)
    assert gone is not None and gone.message.startswith("The machine node3, which holds")


def test_no_single_machine_with_everything_at_once() -> None:
    # node1 has the GPU, node2 the RAM; neither has both
    cluster = [node("node1", 2 * GiB, gpus=1), node("node2", 8 * GiB)]
    misfit = never_fits(bundle(4 * GiB, gpus=1), cluster)
    assert misfit is not None
    assert misfit.message.startswith(
        "This runtime cannot start: no machine in the cluster has 4 GiB of RAM, 1 CPU, 1 GPU "
        "at once.")


def test_dead_machines_and_a_cluster_without_runtime_machines() -> None:
    dead = [node("node1", 16 * GiB, alive=False), node("node2", 2 * GiB)]
    misfit = never_fits(bundle(4 * GiB), dead)
    assert misfit is not None and "has 2 GiB of RAM" in misfit.message
    empty = never_fits(bundle(GiB), [node("head", 8 * GiB, runtimes=0)])
    assert empty is not None and "dikte cluster join" in empty.message
    assert never_fits(bundle(GiB), []) is not None
