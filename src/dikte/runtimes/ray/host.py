"""What Dikte runs on each node of a Ray cluster: the node host.

One node host per node (a detached Ray actor, :mod:`dikte.runtimes.ray.actors`, made by
``dikte cluster join``) starts and ends that node's runtimes with the local backend itself:
the same sandbox, cgroups, disk and network code as on one machine, with the node's own
settings (its data dir, sandbox uids, accelerators). For each runtime it opens a kernel relay
(:mod:`dikte.runtimes.relay`), the only way in from the network, and it serves the node's
control socket toward the control plane (:mod:`dikte.runtimes.tunnel`).

This class knows nothing of Ray: calls come in with JSON-able arguments and go out the same way,
so it can be driven (and tested) without a cluster.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import asdict
from typing import Any

from dikte.config import Settings
from dikte.errors import DikteError, NotFound, RuntimeUnavailable
from dikte.runtimes import netns
from dikte.runtimes.base import Alive, RuntimeHandle
from dikte.runtimes.devices import inventory
from dikte.runtimes.local import LocalBackend
from dikte.runtimes.persist import image_pythons, spec_from_dict
from dikte.runtimes.ray.files import NodeFiles
from dikte.runtimes.ray.streams import NodeStreams
from dikte.runtimes.relay import RelayHub
from dikte.runtimes.tunnel import NodeChannel

log = logging.getLogger(__name__)

NODE_SETTINGS = ("data_dir", "sandbox_uid_base", "runtime_network", "discover_gpus",
                 "accelerators", "images_dir", "images", "drives_dir")
"""The settings of a node that its host uses (the rest are the control plane's)."""


def node_settings(settings: Settings) -> dict[str, Any]:
    """What ``dikte cluster join`` hands to its node host, JSON-able."""
    data = settings.model_dump(mode="json", include=set(NODE_SETTINGS))
    for image in data.get("images", {}).values():
        if image.get("requirements"):
            image.pop("python", None)  # Dikte's own build: its python follows images_dir
    return data


def _error(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, DikteError):
        return {"error": type(exc).__name__, "message": exc.message,
                "log": exc.log_message or exc.message}
    return {"error": type(exc).__name__, "message": "The runtime could not be started.",
            "log": repr(exc)}


class NodeHost:
    """The runtimes of one node."""

    def __init__(self, name: str, address: str, settings: dict[str, Any],
                 backend: LocalBackend | None = None,
                 relay_ports: tuple[int, int] = (49152, 65536)) -> None:
        self.name = name
        self.address = address
        """The node's address as the control plane reaches it (relays listen there)."""
        self.settings = Settings(**settings)
        self.backend = backend or LocalBackend(
            self.settings.data_dir, sandbox_uid_base=self.settings.sandbox_uid_base,
            network=self.settings.runtime_network, drives=self.settings.drives_root(),
            images=image_pythons(self.settings))
        self.relays = RelayHub(address, relay_ports)
        self.channel = NodeChannel(netns.control_dir(self.settings.data_dir)
                                   / netns.CONTROL_SOCKET)
        self.handles: dict[str, RuntimeHandle] = {}
        self.streams = NodeStreams(self.backend, self.handles,
                                   self.settings.data_dir / "streams", address, relay_ports)
        self.files = NodeFiles(self._content)
        self._swept = False
        self._lock = asyncio.Lock()

    async def _ready(self) -> None:
        """First call of this process: what an earlier host of this node left (runtimes whose
        relays died with it, so nobody can reach them) is ended and removed."""
        async with self._lock:
            if not self._swept:
                self._swept = True
                removed = await self.backend.sweep(keep=set(self.handles))
                if removed:
                    log.info("node %s: removed runtimes left by an earlier host: %s",
                             self.name, ", ".join(removed))

    async def info(self) -> dict[str, Any]:
        """The node as the control plane lists it: name, address, accelerators, and where it
        serves streams (terminals, ports) to its runtimes."""
        return {"name": self.name, "address": self.address, "hostname": socket.gethostname(),
                "pid": os.getpid(), "runtimes": sorted(self.handles),
                "accelerators": [asdict(d) for d in inventory(self.settings)],
                "streams": await self.streams.start()}

    async def start(self, spec: dict[str, Any], channel: dict[str, str]) -> dict[str, Any]:
        """Start a runtime; returns its public handle (relay connection) or an error."""
        await self._ready()
        try:
            await self.channel.point_at(channel["address"], channel["cert"])
            handle = await self.backend.start(spec_from_dict(spec))
        except Exception as exc:
            log.warning("node %s: runtime %s did not start", self.name, spec["runtime_id"],
                        exc_info=True)
            return _error(exc)
        return self._publish(handle)

    def _publish(self, handle: RuntimeHandle) -> dict[str, Any]:
        try:
            conn = self.relays.open(handle.runtime_id, handle.connection)
        except Exception:
            self.handles[handle.runtime_id] = handle  # stop() removes it
            raise
        self.handles[handle.runtime_id] = handle
        return {"runtime_id": handle.runtime_id, "connection": conn,
                "started_at": handle.started_at,
                "memory_limit": handle.memory_limit,
                "revived": bool(handle.private.get("revived"))}

    async def poll(self, runtime_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Each runtime's state: ``{"alive": true}`` or how it ended; unknown ids are gone."""
        out: dict[str, dict[str, Any]] = {}
        for rid in runtime_ids:
            handle = self.handles.get(rid)
            if handle is None:
                out[rid] = {"alive": False, "reason": "missing", "exit_code": None,
                            "detail": "The runtime is no longer running on its machine."}
                continue
            state = await self.backend.poll(handle)
            out[rid] = ({"alive": True} if isinstance(state, Alive) else
                        {"alive": False, "reason": state.reason, "exit_code": state.exit_code,
                         "detail": state.detail})
        return out

    async def restart_kernel(self, runtime_id: str) -> dict[str, Any]:
        handle = self.handles.get(runtime_id)
        if handle is None:
            return {"error": "RuntimeUnavailable", "message": "The runtime is gone.",
                    "log": f"node {self.name} has no runtime {runtime_id}"}
        self.relays.close(runtime_id)
        try:
            new = await self.backend.restart_kernel(handle)
        except Exception as exc:
            return _error(exc)
        return self._publish(new)

    async def stop(self, runtime_id: str, grace: float = 3.0) -> None:
        self.relays.close(runtime_id)
        handle = self.handles.pop(runtime_id, None)
        if handle is not None:
            await self.backend.stop(handle, grace)

    async def usage(self, runtime_id: str) -> dict[str, int]:
        handle = self.handles.get(runtime_id)
        if handle is None:
            raise RuntimeUnavailable("The runtime is gone.")
        return asdict(await self.backend.usage(handle))

    async def notify(self, runtime_id: str, notice: dict[str, Any]) -> bool:
        """The kernel's preemption notice (``dikte.kernel.on_preempt``); False when gone."""
        handle = self.handles.get(runtime_id)
        if handle is None:
            return False
        await self.backend.notify(handle, notice)
        return True

    async def keep_only(self, runtime_ids: set[str]) -> list[str]:
        """The janitor: end this node's runtimes that the cluster no longer holds a place for
        (their control plane stopped them while this node was out of reach, or crashed between
        freeing the place and stopping the runtime). Returns what was ended."""
        gone = sorted(set(self.handles) - runtime_ids)
        for rid in gone:
            log.info("node %s: runtime %s has no place in the cluster any more; ending it",
                     self.name, rid)
            await self.stop(rid, grace=1.0)
        return gone

    def _content(self, runtime_id: str) -> Any:
        handle = self.handles.get(runtime_id)
        if handle is None:
            raise NotFound("The runtime is no longer running.", code="not_running")
        return self.backend.content(handle)

    async def shutdown(self) -> None:
        for rid in list(self.handles):
            await self.stop(rid, grace=1.0)
        await self.channel.close()
        await self.streams.close()
        self.relays.shutdown()
