"""NVIDIA GPUs through NVML (``nvidia-ml-py``): what exists, and how busy it is.

A machine without the NVIDIA driver has no NVML library: discovery then finds nothing, which is
not an error. Every NVML call happens here; the rest of Dikte sees :class:`~dikte.policy.
accelerators.Device` values and plain numbers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dikte.accelerators.model import Device

log = logging.getLogger(__name__)

MIG_MINORS = Path("/proc/driver/nvidia-caps/mig-minors")

# Short types people know, found in the driver's model names ("Tesla T4", "NVIDIA A100-SXM4-80GB")
_KNOWN = ("GH200", "H200", "H100", "H800", "B200", "B100", "A100", "A800", "A40", "A30", "A16",
          "A10G", "A10", "A6000", "L40S", "L40", "L4", "V100", "T4", "P100", "P40", "P4", "K80")


def short_type(model: str) -> str:
    """The accelerator type for a model name: ``"Tesla T4"`` -> ``"T4"``; unknown models become
    their name with only letters, digits, ``.``, ``_`` and ``-``."""
    upper = model.upper()
    for known in _KNOWN:
        if re.search(rf"(^|[^A-Z0-9]){known}([^A-Z0-9]|$)", upper):
            return known
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", model.replace("NVIDIA ", "")).strip("-")
    return cleaned or "GPU"


@dataclass(frozen=True)
class Utilization:
    gpu_percent: int
    memory_used: int
    memory_total: int


def _load() -> Any | None:
    try:
        import pynvml
    except ImportError:  # the package is a dependency; a broken install still must not crash
        return None
    return pynvml


@contextmanager
def _session() -> Iterator[Any | None]:
    nvml = _load()
    if nvml is None:
        yield None
        return
    try:
        nvml.nvmlInit()
    except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
        log.debug("NVML unavailable: %s", exc)
        yield None
        return
    try:
        yield nvml
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:
            log.debug("nvmlShutdown failed", exc_info=True)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _mig_minors() -> dict[str, int]:
    """``"gpu0/gi1/access"`` -> minor of /dev/nvidia-caps/nvidia-capN."""
    out: dict[str, int] = {}
    try:
        for line in MIG_MINORS.read_text().splitlines():
            name, _, minor = line.rpartition(" ")
            if name and minor.isdigit():
                out[name] = int(minor)
    except OSError:
        pass
    return out


def discover() -> list[Device]:
    """Every GPU NVML sees, and each MIG instance of a GPU in MIG mode (instead of the GPU)."""
    with _session() as nvml:
        if nvml is None:
            return []
        found: list[Device] = []
        minors = _mig_minors()
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            model = _text(nvml.nvmlDeviceGetName(handle))
            uuid = _text(nvml.nvmlDeviceGetUUID(handle))
            minor = nvml.nvmlDeviceGetMinorNumber(handle)
            memory = int(nvml.nvmlDeviceGetMemoryInfo(handle).total)
            node = f"/dev/nvidia{minor}"
            bus = _text(nvml.nvmlDeviceGetPciInfo(handle).busId)[-12:].lower()
            migs = _mig_devices(nvml, handle, index, model, uuid, node, minors, bus)
            if migs:
                found.extend(migs)
                continue
            found.append(Device(id=uuid, type=short_type(model), model=model, memory_bytes=memory,
                                index=index, visible_id=uuid, nodes=(node,), bus_id=bus))
        return found


def _mig_devices(nvml: Any, handle: Any, index: int, model: str, parent: str, node: str,
                 minors: dict[str, int], bus: str) -> list[Device]:
    try:
        current, _pending = nvml.nvmlDeviceGetMigMode(handle)
    except Exception:
        return []  # not a MIG-capable GPU
    if current != getattr(nvml, "NVML_DEVICE_MIG_ENABLE", 1):
        return []
    out = []
    for slot in range(nvml.nvmlDeviceGetMaxMigDeviceCount(handle)):
        try:
            mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, slot)
        except Exception:
            continue
        uuid = _text(nvml.nvmlDeviceGetUUID(mig))
        memory = int(nvml.nvmlDeviceGetMemoryInfo(mig).total)
        gi = nvml.nvmlDeviceGetGpuInstanceId(mig)
        ci = nvml.nvmlDeviceGetComputeInstanceId(mig)
        caps = [minors.get(f"gpu{index}/gi{gi}/access"), minors.get(f"gpu{index}/gi{gi}/ci{ci}/access")]
        nodes = (node, *(f"/dev/nvidia-caps/nvidia-cap{m}" for m in caps if m is not None))
        slice_gib = max(1, round(memory / 2**30))
        out.append(Device(id=uuid, type=f"{short_type(model)}-{slice_gib}g", model=f"{model} MIG",
                          memory_bytes=memory, index=index, visible_id=uuid, nodes=nodes,
                          mig_parent=parent, bus_id=bus))
    return out


def utilization(device_ids: Sequence[str]) -> dict[str, Utilization]:
    """Current utilization of the GPUs with these UUIDs (MIG instances report memory only)."""
    if not device_ids:
        return {}
    with _session() as nvml:
        if nvml is None:
            return {}
        out: dict[str, Utilization] = {}
        for did in device_ids:
            try:
                handle = nvml.nvmlDeviceGetHandleByUUID(did.encode())
                mem = nvml.nvmlDeviceGetMemoryInfo(handle)
                try:
                    gpu = int(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
                except Exception:
                    gpu = 0  # MIG instances have no utilization counter
                out[did] = Utilization(gpu, int(mem.used), int(mem.total))
            except Exception:
                continue  # a declared device NVML does not know
        return out


def driver_version() -> str | None:
    with _session() as nvml:
        if nvml is None:
            return None
        try:
            return _text(nvml.nvmlSystemGetDriverVersion())
        except Exception:
            return None
