"""The node host as a Ray actor, and how the control plane and ``dikte cluster join`` find it.

Each node that joined runs one detached, named actor ``dikte-node-<name>`` in the ``dikte``
namespace, pinned to its node by the node's own resource ``dikte-node-<name>`` (every node
advertises one, so several nodes on one address stay apart). It outlives the control plane:
a restarted control plane finds it by name, and with it the node's runtimes. Every runtime
holds a detached placement group ``rt-<runtime_id>``: its place in the cluster (CPU, memory,
GPUs). The node host's janitor ends any runtime of its node whose place is gone.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import ray
from ray.util import placement_group_table

from dikte.runtimes.ray.host import NodeHost

log = logging.getLogger(__name__)

NAMESPACE = "dikte"
HOST_PREFIX = "dikte-node-"
PLACE_PREFIX = "rt-"
RUNTIME_RESOURCE = "dikte-runtime"
"""Every runtime asks for one of these; a node offers as many as it may hold (``dikte cluster
join --max-runtimes``). A Ray node that did not join through Dikte offers none, so nothing of
Dikte lands there."""
JANITOR_SECONDS = 20.0


def node_resource(name: str) -> str:
    """The resource only node ``name`` has (what pins its host, and GPU runtimes, there)."""
    return f"{HOST_PREFIX}{name}"


def live_places() -> set[str]:
    """Runtime ids whose placement group exists (placed or waiting)."""
    out = set()
    for info in placement_group_table().values():
        name = info.get("name") or ""
        if name.startswith(PLACE_PREFIX) and info.get("state") != "REMOVED":
            out.add(name[len(PLACE_PREFIX):])
    return out


@ray.remote
class NodeHostActor:
    """Ray's face of :class:`NodeHost`; every method is a coroutine on the actor's loop."""

    def __init__(self, name: str, address: str, settings: dict[str, Any],
                 relay_ports: tuple[int, int]) -> None:
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.host = NodeHost(name, address, settings,
                             relay_ports=(int(relay_ports[0]), int(relay_ports[1])))
        self.node_id = ray.get_runtime_context().get_node_id()
        self._janitor: asyncio.Task[None] | None = None

    def _watch(self) -> None:
        if self._janitor is None:
            self._janitor = asyncio.get_running_loop().create_task(self._janitor_loop())

    async def _janitor_loop(self) -> None:
        while True:
            await asyncio.sleep(JANITOR_SECONDS)
            if not self.host.handles:
                continue
            try:
                places = await asyncio.to_thread(live_places)
                await self.host.keep_only(places)
            except Exception:
                log.exception("the janitor of node %s failed this round", self.host.name)

    async def info(self) -> dict[str, Any]:
        self._watch()
        return {**await self.host.info(), "node_id": self.node_id}

    async def start(self, spec: dict[str, Any], channel: dict[str, str]) -> dict[str, Any]:
        self._watch()
        return await self.host.start(spec, channel)

    async def poll(self, runtime_ids: list[str]) -> dict[str, dict[str, Any]]:
        return await self.host.poll(runtime_ids)

    async def restart_kernel(self, runtime_id: str) -> dict[str, Any]:
        return await self.host.restart_kernel(runtime_id)

    async def stop(self, runtime_id: str, grace: float = 3.0) -> None:
        await self.host.stop(runtime_id, grace)

    async def usage(self, runtime_id: str) -> dict[str, int]:
        return await self.host.usage(runtime_id)

    async def notify(self, runtime_id: str, notice: dict[str, Any]) -> bool:
        return await self.host.notify(runtime_id, notice)

    async def keep_only(self, runtime_ids: list[str]) -> list[str]:
        return await self.host.keep_only(set(runtime_ids))

    async def file_call(self, runtime_id: str, op: str, *args: Any) -> Any:
        return await asyncio.to_thread(self.host.files.call, runtime_id, op, *args)

    async def file_read(self, runtime_id: str, rel: str, offset: int, size: int) -> Any:
        return await asyncio.to_thread(self.host.files.read, runtime_id, rel, offset, size)

    async def file_write_begin(self, runtime_id: str, rel: str, max_bytes: int,
                               overwrite: bool) -> Any:
        return await self.host.files.write_begin(runtime_id, rel, max_bytes, overwrite)

    async def file_write_chunk(self, upload: str, data: bytes) -> Any:
        return await self.host.files.write_chunk(upload, data)

    async def file_write_end(self, upload: str, abort: bool = False) -> Any:
        return await self.host.files.write_end(upload, abort)

    async def shutdown(self) -> None:
        await self.host.shutdown()


def start_host(name: str, address: str, settings: dict[str, Any],
               relay_ports: tuple[int, int] = (49152, 65536)) -> Any:
    """Make node ``name``'s host (or find the one running); call from a driver on the cluster."""
    return NodeHostActor.options(  # type: ignore[attr-defined]
        name=HOST_PREFIX + name, namespace=NAMESPACE, lifetime="detached", get_if_exists=True,
        num_cpus=0, resources={node_resource(name): 0.001}, max_restarts=0,
        max_concurrency=1000,
    ).remote(name, address, settings, relay_ports)
