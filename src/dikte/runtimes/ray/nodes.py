"""The cluster's Dikte nodes as the control plane knows them.

Each node that joined has a name and a node host (a named actor, :mod:`dikte.runtimes.ray.actors`).
A machine can leave and another join under the same name: Ray gives it a new node id. So the
directory keeps, for each name, the host that last answered and the node id it answered from,
and judges a node (dead, draining) by that id only, never by an earlier node of its name.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import ray
from ray.exceptions import RayActorError

from dikte.errors import RuntimeUnavailable
from dikte.runtimes.ray.actors import HOST_PREFIX, NAMESPACE

log = logging.getLogger(__name__)


class NodeDirectory:
    """Node hosts, node ids and drains, by node name (call from a connected Ray driver)."""

    def __init__(self, call_timeout: float) -> None:
        self.call_timeout = call_timeout
        self.hosts: dict[str, Any] = {}
        """node name -> node host actor."""
        self.names: dict[str, str] = {}
        """node id (hex) -> node name, of every node seen (earlier ones of a name too)."""
        self.infos: dict[str, dict[str, Any]] = {}
        """node name -> its node host's info (address, streams, accelerators, node id), from
        the host in ``hosts``."""
        self.draining: dict[str, float] = {}
        """node name -> when it goes (epoch seconds; inf: no deadline)."""

    async def list(self) -> list[dict[str, Any]]:
        """Every node that joined and whose host answers, with its accelerators and drain."""
        names = await asyncio.to_thread(ray.util.list_named_actors)
        out: list[dict[str, Any]] = []
        for actor in sorted(n for n in names if n.startswith(HOST_PREFIX)):
            name = actor[len(HOST_PREFIX):]
            try:
                host = await asyncio.to_thread(ray.get_actor, actor, NAMESPACE)
                info: dict[str, Any] = await asyncio.wait_for(host.info.remote(),
                                                              self.call_timeout)
            except (RayActorError, ValueError, TimeoutError):
                log.info("node %s does not answer", name)
                continue
            self.hosts[name] = host
            self.names[info["node_id"]] = name
            self.infos[name] = info
            until = self.draining.get(name)
            out.append({**info, "draining": until is not None,
                        "draining_until": until if until != float("inf") else None})
        return out

    async def host(self, name: str) -> Any:
        """Node ``name``'s host actor."""
        host = self.hosts.get(name)
        if host is None:
            try:
                host = await asyncio.to_thread(ray.get_actor, HOST_PREFIX + name, NAMESPACE)
            except ValueError:
                raise RuntimeUnavailable(
                    f"The machine {name} is not part of the cluster any more.",
                    log_message=f"no node host {HOST_PREFIX}{name}") from None
            self.hosts[name] = host
            self.infos.pop(name, None)  # that was another host's, maybe of an earlier node
        return host

    def node_id(self, name: str) -> str | None:
        """The Ray node id of the node that now answers to ``name`` (None: not known yet)."""
        info = self.infos.get(name)
        return info["node_id"] if info else None

    async def name_of(self, node_id: str) -> str:
        """The name of the node Ray placed something on."""
        if node_id not in self.names:
            await self.list()
        try:
            return self.names[node_id]
        except KeyError:
            raise RuntimeUnavailable(
                "The runtime was placed on a machine where Dikte does not run.",
                log_message=f"node {node_id} has no Dikte node host") from None

    async def info(self, name: str, gone: str) -> dict[str, Any]:
        """Node ``name``'s host info; RuntimeUnavailable with ``gone`` when it does not answer."""
        if name not in self.infos:
            await self.list()
        try:
            return self.infos[name]
        except KeyError:
            raise RuntimeUnavailable(gone, code="not_running") from None

    def refresh_draining(self) -> None:
        """Read which nodes drain, and until when (blocking: call in a thread)."""
        # the GCS's own list, as Ray Serve reads it (ray.nodes() does not say "draining")
        gcs = ray._private.worker.global_worker.gcs_client  # type: ignore[attr-defined]
        found = gcs.get_draining_nodes(timeout=self.call_timeout)
        out = {}
        for node_id, deadline_ms in found.items():
            key = node_id.hex() if isinstance(node_id, bytes) else str(node_id)
            name = self.names.get(key)
            if name is not None and self.node_id(name) == key:  # not an earlier namesake
                out[name] = deadline_ms / 1000 if deadline_ms else float("inf")
        self.draining = out

    def dead(self, names: set[str]) -> set[str]:
        """Of ``names``, the nodes the cluster says are dead (or has forgotten), each judged by
        the node id of its host that last answered; a name whose node id is not known yet is
        not judged (blocking: call in a thread)."""
        alive = {n["NodeID"] for n in ray.nodes() if n["Alive"]}  # type: ignore[no-untyped-call]
        return {name for name in names
                if (node_id := self.node_id(name)) is not None and node_id not in alive}
