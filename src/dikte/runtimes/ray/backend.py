"""The Ray backend: runtimes on the nodes of a Ray cluster.

The control plane places each runtime with a detached placement group (``rt-<id>``: CPU,
memory, GPUs, and the node of its accelerators when it has some), so the cluster's scheduler
and autoscaler see every demand, and a runtime nobody can place yet waits. Once placed, the
node host of that node (:mod:`dikte.runtimes.ray.actors`) starts it with the local backend and
returns the address of its kernel relay. From then on the control plane talks to the kernel
over ZeroMQ (CurveZMQ) only; Ray carries the rare calls: start, poll, restart, stop, usage,
notices.

One watcher task asks each node host, once a second, how all of that node's runtimes are, and
asks the cluster which nodes are draining. What :meth:`poll` answers comes from there:

- a node host that died with its node (``ActorDiedError``), or that cannot be reached while
  the cluster says its node is dead: every runtime there is *lost*, said in a sentence. A node
  is judged by the Ray node id of the host that last answered under its name: a machine that
  joins again under an earlier node's name is a new node, and is not dead for that one's
  death (it is only slow when it does not answer in time);
- a node draining with a deadline (``ray drain-node``): its runtimes are told (the person and
  the kernel's ``on_preempt``) and stop at the deadline; new runtimes are placed elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import Any

import ray
from ray.exceptions import ActorDiedError, GetTimeoutError, RayActorError
from ray.util.placement_group import (
    get_placement_group,
    placement_group,
    remove_placement_group,
)
from ray.util.placement_group import placement_group_table as pg_table

from dikte.accelerators.model import Device
from dikte.config import Settings
from dikte.errors import NotFound, RuntimeUnavailable, SandboxUnavailable
from dikte.runtimes.base import Alive, Exited, RuntimeHandle, RuntimeSpec, Usage
from dikte.runtimes.persist import handle_from_state, handle_to_state, spec_to_dict
from dikte.runtimes.ray.actors import (
    NAMESPACE,
    PLACE_PREFIX,
    RUNTIME_RESOURCE,
    live_places,
    node_resource,
)
from dikte.runtimes.ray.files import RemoteContent
from dikte.runtimes.ray.fit import never_fits
from dikte.runtimes.ray.nodes import NodeDirectory
from dikte.runtimes.ray.streams import RemoteTerminal, open_stream, socket_over

log = logging.getLogger(__name__)

WATCH_SECONDS = 1.0
CALL_TIMEOUT = 10.0
"""Seconds a node host has to answer a poll before its node is checked."""
STOP_TIMEOUT = 30.0


GONE = ("its variables and the files in /content are gone. Your drive and the notebook's "
        "saved outputs are kept; connect again for a new runtime.")


def lost(node: str) -> Exited:
    return Exited("lost", None, f"The machine this runtime ran on ({node}) stopped answering, "
                                f"so the runtime is lost: {GONE}")


def ended_there(node: str) -> Exited:
    """What a node host says of a runtime it does not hold: the node ended it (its place in
    the cluster was gone) or a host made again there removed it. The whole runtime is gone,
    not just its kernel: nothing to restart."""
    return Exited("lost", None, f"The runtime is no longer running on its machine ({node}): "
                                f"{GONE}")


def preempted(node: str) -> Exited:
    return Exited("preempted", None,
                  f"The machine this runtime ran on ({node}) was taken back (drained), so the "
                  "runtime stopped. Your drive (with any checkpoint written there) is kept; "
                  "connect again for a new runtime on another machine.")


class RayBackend:
    """Runtimes on a Ray cluster (see the module docstring)."""

    name = "ray"
    cancellable_start = True
    """A cancelled start frees its placement group (and with it, by the node's janitor, any
    runtime the node had begun): a start waiting for room can be given up."""

    def __init__(self, address: str, *, channel: dict[str, str], runtime_cpus: float = 1.0,
                 autoscaling: bool = False, init: bool = True) -> None:
        self.address = address
        self.autoscaling = autoscaling
        """The cluster grows by itself: a runtime no machine could hold waits for one."""
        self.channel = channel
        """``{"address": "host:port", "cert": PEM}``: where nodes reach the runtime channel."""
        self.runtime_cpus = runtime_cpus
        self._init = init
        self._connected = False
        self._nodes = NodeDirectory(CALL_TIMEOUT)
        self._watched: dict[str, str] = {}
        """runtime id -> node name, of every runtime this control plane holds."""
        self._states: dict[str, Alive | Exited] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._streams: set[asyncio.Task[None]] = set()
        self._placing: dict[str, float] = {}
        """runtime id -> when it asked for a place, while the cluster has none for it yet."""

    # -- the cluster ------------------------------------------------------------------------

    def _connect(self) -> None:
        if self._connected:
            return
        if self._init and not ray.is_initialized():
            ray.init(address=self.address, namespace=NAMESPACE, log_to_driver=False,
                     logging_level=logging.WARNING, configure_logging=False)
        self._connected = True

    async def connect(self) -> None:
        await asyncio.to_thread(self._connect)

    async def nodes(self) -> list[dict[str, Any]]:
        """Every node that joined (its host answers), with its accelerators."""
        await self.connect()
        return await self._nodes.list()

    async def accelerators(self) -> list[Device]:
        """The accelerators of every node, named ``<node>/<device>``."""
        devices = []
        for info in await self.nodes():
            for d in info["accelerators"]:
                d = {**d, "nodes": tuple(d.get("nodes") or ())}
                devices.append(Device(**{**d, "id": f"{info['name']}/{d['id']}",
                                         "node": info["name"]}))
        return devices

    def _bundle(self, spec: RuntimeSpec) -> dict[str, float]:
        bundle: dict[str, float] = {RUNTIME_RESOURCE: 1, "memory": float(spec.memory_bytes)}
        if self.runtime_cpus > 0:
            bundle["CPU"] = self.runtime_cpus
        if spec.node:
            bundle[node_resource(spec.node)] = 0.001
        devices = [d for d in spec.env.get("DIKTE_ACCELERATORS", "").split(",") if d]
        if devices:
            bundle["GPU"] = float(len(devices))
        return bundle

    def place_in_line(self, runtime_id: str) -> int | None:
        """While a runtime waits for the cluster to find room for it (its placement group is
        pending; the autoscaler sees the demand): its place among those waiting, 1 = first;
        None once placed (or when it never waited)."""
        if runtime_id not in self._placing:
            return None
        return sorted(self._placing, key=self._placing.__getitem__).index(runtime_id) + 1

    # -- the contract -----------------------------------------------------------------------

    async def start(self, spec: RuntimeSpec) -> RuntimeHandle:
        spec.validate()
        await self.connect()
        self._ensure_watcher()
        bundle = self._bundle(spec)
        if not self.autoscaling:
            misfit = never_fits(bundle, await asyncio.to_thread(ray.nodes))
            if misfit is not None:
                raise RuntimeUnavailable(misfit.message, code="no_machine_fits",
                                         log_message=misfit.log_message)
        place = await asyncio.to_thread(
            placement_group, [bundle], strategy="STRICT_PACK",
            name=PLACE_PREFIX + spec.runtime_id, lifetime="detached")
        try:
            waited = time.monotonic()
            self._placing[spec.runtime_id] = waited
            try:
                await place.ready()
            finally:
                self._placing.pop(spec.runtime_id, None)
            if time.monotonic() - waited > 1:
                log.info("runtime %s waited %.1f s for a place in the cluster",
                         spec.runtime_id, time.monotonic() - waited)
            table = await asyncio.to_thread(pg_table, place)
            node = await self._nodes.name_of(table["bundles_to_node_id"][0])
            host = await self._nodes.host(node)
            res = await host.start.remote(spec_to_dict(spec), self.channel)
        except BaseException:
            await asyncio.to_thread(remove_placement_group, place)
            raise
        if "error" in res:
            await asyncio.to_thread(remove_placement_group, place)
            raise RuntimeUnavailable(res["message"], log_message=f"on {node}: {res['log']}")
        handle = self._handle(res, node)
        self._watched[spec.runtime_id] = node
        self._states.pop(spec.runtime_id, None)
        return handle

    @staticmethod
    def _handle(res: dict[str, Any], node: str) -> RuntimeHandle:
        return RuntimeHandle(runtime_id=res["runtime_id"],
                             connection=dict(res["connection"]),
                             started_at=float(res["started_at"]),
                             memory_limit=int(res["memory_limit"]), node=node,
                             private={"revived": True} if res.get("revived") else {})

    async def poll(self, handle: RuntimeHandle) -> Alive | Exited:
        self._ensure_watcher()
        self._watched.setdefault(handle.runtime_id, handle.node)
        return self._states.get(handle.runtime_id, Alive())

    async def restart_kernel(self, handle: RuntimeHandle) -> RuntimeHandle:
        node = handle.node
        state = self._states.get(handle.runtime_id)
        if isinstance(state, Exited) and state.reason in ("lost", "preempted"):
            raise RuntimeUnavailable(state.detail)
        host = await self._nodes.host(node)
        try:
            res = await asyncio.wait_for(host.restart_kernel.remote(handle.runtime_id),
                                         STOP_TIMEOUT + 60)
        except (RayActorError, TimeoutError):
            raise RuntimeUnavailable(lost(node).detail) from None
        if "error" in res:
            raise RuntimeUnavailable(res["message"], log_message=f"on {node}: {res['log']}")
        self._states.pop(handle.runtime_id, None)
        new = self._handle(res, node)
        new.started_at = handle.started_at
        return new

    async def stop(self, handle: RuntimeHandle, grace: float = 3.0) -> None:
        node = handle.node
        self._watched.pop(handle.runtime_id, None)
        state = self._states.pop(handle.runtime_id, None)
        if not (isinstance(state, Exited) and state.reason == "lost"):
            try:
                host = await self._nodes.host(node)
                await asyncio.wait_for(host.stop.remote(handle.runtime_id, grace),
                                       STOP_TIMEOUT + grace)
            except (RayActorError, RuntimeUnavailable, TimeoutError):
                log.info("runtime %s: its node %s is gone; nothing to stop there",
                         handle.runtime_id, node)
        await self._free_place(handle.runtime_id)

    async def _free_place(self, runtime_id: str) -> None:
        def remove() -> None:
            try:
                remove_placement_group(get_placement_group(PLACE_PREFIX + runtime_id))
            except ValueError:
                pass  # already gone
        await asyncio.to_thread(remove)

    def state(self, handle: RuntimeHandle) -> dict[str, Any]:
        return handle_to_state(self.name, handle)

    async def reattach(self, state: dict[str, Any], *,
                       revive: bool = False) -> RuntimeHandle | None:
        handle = handle_from_state(self.name, state)
        if handle is None:
            return None
        await self.connect()
        self._ensure_watcher()
        node = handle.node
        try:
            host = await self._nodes.host(node)
            answer = await asyncio.wait_for(host.poll.remote([handle.runtime_id]), CALL_TIMEOUT)
        except (RayActorError, RuntimeUnavailable, TimeoutError):
            log.info("runtime %s: its node %s is gone", handle.runtime_id, node)
            await self._free_place(handle.runtime_id)
            return None
        if answer[handle.runtime_id]["alive"]:
            self._watched[handle.runtime_id] = node
            return handle
        if revive and answer[handle.runtime_id]["reason"] != "missing":
            try:
                new = await self.restart_kernel(handle)
            except RuntimeUnavailable:
                pass
            else:
                new.private["revived"] = True
                self._watched[handle.runtime_id] = node
                return new
        await self.stop(handle, grace=0.5)
        return None

    async def usage(self, handle: RuntimeHandle) -> Usage:
        host = await self._nodes.host(handle.node)
        try:
            got = await asyncio.wait_for(host.usage.remote(handle.runtime_id), CALL_TIMEOUT)
        except (RayActorError, TimeoutError):
            raise RuntimeUnavailable("The runtime's machine does not answer.") from None
        return Usage(**got)

    async def notify(self, handle: RuntimeHandle, notice: dict[str, Any]) -> None:
        """The kernel's preemption notice (checkpoint now)."""
        host = await self._nodes.host(handle.node)
        await asyncio.wait_for(host.notify.remote(handle.runtime_id, notice), CALL_TIMEOUT)

    async def sweep(self, keep: set[str]) -> list[str]:
        """At control-plane start: places of runtimes nobody holds (a control plane killed
        while starting or stopping one) are freed, and each node ends its runtimes that are not
        in ``keep``."""
        await self.connect()
        freed = []
        for rid in sorted(await asyncio.to_thread(live_places) - keep):
            log.info("freeing the place of runtime %s, which nobody holds", rid)
            await self._free_place(rid)
            freed.append(rid)
        for info in await self.nodes():
            host = self._nodes.hosts[info["name"]]
            try:
                await asyncio.wait_for(host.keep_only.remote(sorted(keep)), STOP_TIMEOUT)
            except (RayActorError, TimeoutError):
                log.warning("node %s did not clean up", info["name"])
        return freed

    # -- what needs the runtime's machine (not offered across machines yet) -----------------

    async def open_terminal(self, handle: RuntimeHandle, cols: int, rows: int) -> Any:
        """A shell in the runtime, started by its node's local backend, its pty bytes over a
        TLS stream to the node (:mod:`dikte.runtimes.ray.streams`)."""
        node = await self._nodes.info(handle.node, lost(handle.node).detail)
        reader, writer = await open_stream(node, {
            "runtime_id": handle.runtime_id, "kind": "terminal", "cols": cols, "rows": rows})
        return RemoteTerminal(reader, writer)

    def content(self, handle: RuntimeHandle) -> Any:
        """The runtime's /content through its node (:mod:`dikte.runtimes.ray.files`): the
        node's local backend walks every path, as on one machine."""
        host = self._nodes.hosts.get(handle.node)
        if host is None:
            raise NotFound("The runtime's machine is not known yet; try again in a moment.")
        return RemoteContent(host, handle.runtime_id)

    def content_root(self, handle: RuntimeHandle) -> str:
        return "/content"  # every node sandboxes: /content is /content

    async def connect_port(self, handle: RuntimeHandle, port: int,
                           timeout: float = 10.0) -> socket.socket:
        """A socket whose other end is the runtime's ``127.0.0.1:port`` on its node (the
        node's local backend checks that the runtime's own user listens there)."""
        node = await self._nodes.info(handle.node, lost(handle.node).detail)
        reader, writer = await open_stream(node, {
            "runtime_id": handle.runtime_id, "kind": "port", "port": port}, timeout)
        sock, task = await socket_over(reader, writer)
        self._streams.add(task)
        task.add_done_callback(self._streams.discard)
        return sock

    def shares_loopback(self, handle: RuntimeHandle) -> bool:
        return False  # every node gives runtimes a network of their own

    # -- watching ---------------------------------------------------------------------------

    def _ensure_watcher(self) -> None:
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None

    async def _watch(self) -> None:
        while True:
            try:
                await self._watch_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("watching the cluster failed this round")
            await asyncio.sleep(WATCH_SECONDS)

    async def _watch_once(self) -> None:
        by_node: dict[str, list[str]] = {}
        for rid, node in list(self._watched.items()):
            if not isinstance(self._states.get(rid), Exited):
                by_node.setdefault(node, []).append(rid)
        if not by_node:
            return
        if any(self._nodes.node_id(node) is None for node in by_node):
            await self.nodes()  # which node each name is now (after a restart: none known yet)
        await asyncio.to_thread(self._nodes.refresh_draining)
        suspect: list[tuple[str, list[str], str]] = []
        for node, rids in by_node.items():
            try:
                host = await self._nodes.host(node)
                answers = await asyncio.wait_for(host.poll.remote(rids), CALL_TIMEOUT)
            except ActorDiedError:
                log.warning("node %s is gone; its runtimes %s are lost", node, rids)
                self._settle(rids, self._machine_gone(node))
                continue
            except (RayActorError, GetTimeoutError, TimeoutError, RuntimeUnavailable) as exc:
                why = (f"no answer in {CALL_TIMEOUT:.0f} s" if isinstance(
                    exc, (GetTimeoutError, TimeoutError)) else type(exc).__name__)
                suspect.append((node, rids, why))
                continue
            deadline = self._nodes.draining.get(node)
            for rid, a in answers.items():
                if rid not in self._watched:
                    continue
                if a["alive"]:
                    self._states[rid] = Alive(ends_at=deadline) if deadline else Alive()
                elif a["reason"] == "missing":
                    log.warning("node %s no longer holds runtime %s", node, rid)
                    self._states[rid] = ended_there(node)
                else:
                    self._states[rid] = Exited(a["reason"], a["exit_code"], a["detail"])
        if suspect:
            dead = await asyncio.to_thread(self._nodes.dead, {node for node, _, _ in suspect})
            for node, rids, why in suspect:
                if node in dead:
                    log.warning("node %s is dead; its runtimes %s are lost", node, rids)
                    self._settle(rids, self._machine_gone(node))
                else:
                    log.info("node %s is slow to answer (%s) but the cluster has it alive; "
                             "its runtimes %s are kept", node, why, rids)

    def _machine_gone(self, node: str) -> Exited:
        """How a runtime on ``node`` ended when the node went: taken back if it was draining."""
        return preempted(node) if node in self._nodes.draining else lost(node)

    def _settle(self, rids: list[str], state: Exited) -> None:
        for rid in rids:
            if rid in self._watched:
                self._states[rid] = state


def address_of(settings: Settings) -> str:
    """The cluster's head; ``local``: the loopback cluster of this data dir (whose network
    this process entered at start, see ``dikte serve``)."""
    if settings.ray_address == "local":
        from dikte.runtimes.ray.cluster import LocalCluster

        state = LocalCluster(settings.data_dir / "cluster").state()
        if state is None:
            raise SandboxUnavailable("No local cluster runs for this data dir: start one with "
                                     "`dikte cluster local start`.")
        return str(state["address"])
    if not settings.ray_address:
        raise SandboxUnavailable("runtime_backend is \"ray\" but ray_address is empty: set "
                                 "it to the cluster's head, HOST:PORT.")
    return settings.ray_address


def from_settings(settings: Settings) -> RayBackend:
    """The ``ray`` entry point: runtimes on the cluster at ``ray_address``; the runtime
    channel's address is set once the control plane listens for the nodes."""
    return RayBackend(address_of(settings), channel={}, runtime_cpus=settings.runtime_cpus,
                      autoscaling=settings.ray_autoscaling)
