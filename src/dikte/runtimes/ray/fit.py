"""Whether any machine of the cluster could ever hold a runtime, free or not.

A runtime's placement group waits while the cluster has no room *now*; that wait ends when
another runtime stops. One whose demands exceed every machine's whole size (12 GiB of RAM asked
of 4 GiB nodes) would wait forever on a cluster that does not grow. :func:`never_fits` finds
that case, so the person is told at once, in a sentence, instead of seeing "waiting for a
machine with room" without end. A cluster with an autoscaler (``ray_autoscaling``) skips the
check: there the waiting demand is what makes a larger machine come.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dikte.config import format_size
from dikte.runtimes.ray.actors import HOST_PREFIX, RUNTIME_RESOURCE


@dataclass(frozen=True)
class Misfit:
    message: str
    """For the person: what the runtime needs, what the largest machine has, what to do."""
    log_message: str
    """For the administrator: the resource and the settings that decide it."""


ASK = ("Ask your administrator to lower what this runtime type asks for, or to add a larger "
       "machine to the cluster.")


def _amount(resource: str, value: float) -> str:
    if resource == "memory":
        return f"{format_size(value)} of RAM"
    if resource == "CPU":
        return f"{value:g} CPUs" if value != 1 else "1 CPU"
    if resource == "GPU":
        return f"{value:g} GPUs" if value != 1 else "1 GPU"
    return f"{value:g} {resource}"


def never_fits(bundle: dict[str, float], nodes: list[dict[str, Any]]) -> Misfit | None:
    """Why no alive machine of ``nodes`` (as ``ray.nodes()`` lists them) could hold ``bundle``
    even when empty; None when one could."""
    alive = [n.get("Resources") or {} for n in nodes if n.get("Alive")]
    takers = [r for r in alive if r.get(RUNTIME_RESOURCE, 0) >= 1]
    if not takers:
        return Misfit("No machine of the cluster takes runtimes right now, so this runtime "
                      "cannot start. Ask your administrator to join one (dikte cluster join).",
                      "no alive node offers the dikte-runtime resource")
    pins = [k for k in bundle if k.startswith(HOST_PREFIX)]
    if pins:
        pinned = [r for r in takers if all(r.get(p, 0) > 0 for p in pins)]
        if not pinned:
            name = pins[0][len(HOST_PREFIX):]
            return Misfit(f"The machine {name}, which holds the accelerators granted to this "
                          "runtime, is not in the cluster right now. Connect again in a moment.",
                          f"no alive node offers {pins[0]}")
        takers = pinned
    for resource in ("memory", "GPU", "CPU"):
        need = bundle.get(resource, 0)
        if need <= 0:
            continue
        largest = max(r.get(resource, 0) for r in takers)
        if largest < need:
            return Misfit(
                f"This runtime cannot start: it needs {_amount(resource, need)} and the "
                f"largest machine in the cluster has {_amount(resource, largest)}. {ASK}",
                f"no node offers {_amount(resource, need)} (largest: {_amount(resource, largest)}"
                "); lower the tier's "
                "shape (memory) or runtime_memory / runtime_cpus, add a larger node, or set "
                "ray_autoscaling = true if an autoscaler adds nodes")
    if not any(all(r.get(k, 0) >= v for k, v in bundle.items()) for r in takers):
        asked = ", ".join(_amount(k, v) for k, v in bundle.items() if k != RUNTIME_RESOURCE
                          and not k.startswith(HOST_PREFIX))
        return Misfit(f"This runtime cannot start: no machine in the cluster has {asked} "
                      f"at once. {ASK}", f"no single node offers all of {bundle}")
    return None
