"""Sessions: every open notebook and its runtime, for every person.

This is the only layer that composes drive, runtimes, execution and the database.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import string
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from dikte.accelerators.model import Device
from dikte.config import Settings
from dikte.control.accelerators import AcceleratorService, Cancelled, inventory
from dikte.control.enforcement import Enforcer, tier_limits
from dikte.control.pool import PoolKey, RuntimePool
from dikte.control.runtime_link import RuntimeLink, link_of
from dikte.control.starts import StartGate
from dikte.db import Database
from dikte.db.secrets import drop_grants, move_grants
from dikte.drive import Drive
from dikte.drive.paths import canonical
from dikte.errors import BadRequest, DikteError, NotFound, RuntimeUnavailable
from dikte.execution.outputs import OutputLimits
from dikte.images import catalog
from dikte.notebooks.journal import EditJournal, journal_path, replay
from dikte.notebooks.journal import read as read_journal
from dikte.notebooks.notebook import OpenNotebook
from dikte.policy.tiers import is_accelerator_shape
from dikte.runtimes.base import RuntimeBackend, RuntimeSpec

log = logging.getLogger(__name__)

_ID_CHARS = string.ascii_lowercase + string.digits


def new_runtime_id() -> str:
    return "".join(secrets.choice(_ID_CHARS) for _ in range(12))


class SessionManager:
    def __init__(self, settings: Settings, db: Database, backend: RuntimeBackend,
                 drive_for: Callable[[int], Drive],
                 accelerators: Sequence[Device] | None = None,
                 channel_env: Callable[[str], Mapping[str, str]] | None = None) -> None:
        self.settings = settings
        self.db = db
        self.backend = backend
        self.drive_for = drive_for
        self.notebooks: dict[tuple[int, str], OpenNotebook] = {}
        self.journals = settings.data_dir / "journal"
        self._locks: dict[tuple[int, str], asyncio.Lock] = {}
        self.limits = OutputLimits(max_lines=settings.output_max_lines,
                                   max_bytes=settings.output_max_bytes)
        self.channel_env = channel_env or (lambda runtime_id: {})
        """What a runtime's code needs to reach its notebook's tabs (the runtime channel's
        address and the runtime's token, see dikte.bridge.channel); nothing without a server."""
        self.accelerators = AcceleratorService(
            inventory(settings) if accelerators is None else accelerators)
        self.enforcer = Enforcer(settings, db, self.notebooks, self.accelerators,
                                 self.disconnect)
        self.accelerators.on_queue_change = self._tell_queue
        self.starts = StartGate(settings.runtime_start_concurrency or os.cpu_count() or 1)
        self.pool = RuntimePool(backend, settings.runtime_pool, self.starts, self._pool_spec,
                                new_runtime_id)

    # opening

    async def open(self, person_id: int, path: str) -> OpenNotebook:
        path = canonical(path)  # one open notebook per file, however its path is spelled
        key = (person_id, path)
        if key in self.notebooks:
            return self.notebooks[key]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key not in self.notebooks:
                drive = self.drive_for(person_id)
                if not path.endswith(".ipynb"):
                    raise BadRequest(f"{path} is not a notebook (.ipynb).", code="not_a_notebook")
                doc = await asyncio.to_thread(drive.read_notebook, path)
                journal = EditJournal(journal_path(self.journals, person_id, path), path)
                replayed = await asyncio.to_thread(_replay, journal, doc)
                nb = OpenNotebook(
                    person_id=person_id, path=path, drive=drive, doc=doc, limits=self.limits,
                    save_interval=self.settings.save_interval_seconds, journal=journal,
                    coalesce=self.settings.output_coalesce_seconds)
                if replayed is not None:
                    log.info("%s: %d edits from before the server stopped were replayed",
                             path, replayed)
                    nb.mark_dirty()
                    await nb.save()  # and the journal goes
                self.notebooks[key] = nb
            return self.notebooks[key]

    async def recover_journals(self) -> None:
        """At start-up: edits acknowledged before the server stopped and not yet in their
        notebooks are replayed and saved (see dikte.notebooks.journal)."""
        for torn in await asyncio.to_thread(lambda: list(self.journals.glob("*/*.tmp"))):
            log.info("removing %s, a journal rewrite cut short", torn)
            torn.unlink(missing_ok=True)
        files = await asyncio.to_thread(lambda: sorted(self.journals.glob("*/*.jsonl")))
        for file in files:
            try:
                person_id = int(file.parent.name)
                path, _ = await asyncio.to_thread(read_journal, file)
                if path is None or journal_path(self.journals, person_id, path) != file:
                    raise ValueError("not a journal of this server")
                nb = await self.open(person_id, path)
                await self.release(nb)
            except NotFound:
                log.warning("the notebook of edit journal %s is gone; the journal is removed",
                            file)
                file.unlink(missing_ok=True)
            except Exception as exc:
                log.warning("the edit journal %s could not be replayed (%s); it is kept",
                            file, exc)

    def loaded(self, person_id: int, path: str) -> OpenNotebook | None:
        try:
            return self.notebooks.get((person_id, canonical(path)))
        except DikteError:
            return None

    async def release(self, nb: OpenNotebook) -> None:
        """Forget a notebook nobody watches, runs or connects; it is saved first."""
        if len(nb.audience) or link_of(nb) is not None or not nb.idle.is_set() or nb.pinned:
            return
        await nb.save()
        if nb.unsaved:
            return  # the save failed (e.g. a full drive): keep the outputs here until it works
        self.notebooks.pop((nb.person_id, nb.path), None)

    # runtimes

    def _link(self, nb: OpenNotebook, runtime_id: str, image: str,
              shape: str = "standard") -> RuntimeLink:
        _, disk = self.enforcer.runtime_limits(nb.person_id, shape)
        link = RuntimeLink(nb, backend=self.backend, db=self.db, events=self,
                           runtime_id=runtime_id, image=image, disk_limit=disk,
                           disk_check_seconds=self.settings.disk_check_seconds)
        link.heartbeat_timeout = self.settings.kernel_heartbeat_seconds
        return link

    def spec(self, nb: OpenNotebook, runtime_id: str, image: str,
             shape: str = "standard") -> RuntimeSpec:
        memory, disk = self.enforcer.runtime_limits(nb.person_id, shape)
        spec = build_spec(self.settings, nb, runtime_id, image, memory=memory)
        return replace(spec, env={**spec.env, **self.channel_env(runtime_id)},
                       disk_bytes=disk, max_processes=self.enforcer.runtime_processes(nb.person_id))

    async def _measure(self, nb: OpenNotebook, shape: str) -> tuple[int, float | None]:
        """What admission needs to read (the drive's size; today's accelerator seconds for an
        accelerator), read in a thread: a walk of a large drive, or a database round trip,
        would hold up every notebook on the event loop."""
        drive = await asyncio.to_thread(nb.drive.usage_bytes)
        accel = (await asyncio.to_thread(self.enforcer.accelerator_seconds, nb.person_id,
                                         time.time())
                 if is_accelerator_shape(shape) else None)
        return drive, accel

    async def _list_accelerators_for(self, shape: str) -> None:
        """A cluster's nodes come and go (a node that rejoined while this server started is
        listed only at the next refresh): before refusing a shape the books lack, ask again."""
        listing = getattr(self.backend, "accelerators", None)
        if listing is None or not is_accelerator_shape(shape) or self.accelerators.offers(shape):
            return
        try:
            self.accelerators.update(await listing())
        except Exception:
            log.warning("the cluster's accelerators could not be listed", exc_info=True)

    def _prepare(self, nb: OpenNotebook, image: str | None, shape: str = "standard",
                 background: bool = False,
                 measured: tuple[int, float | None] | None = None,
                 ) -> tuple[RuntimeLink, RuntimeSpec]:
        """Admission and the runtime's spec; raises the refusal before anything starts.
        ``measured``: see :meth:`_measure`."""
        image = image or self.settings.default_image
        rid = new_runtime_id()
        spec = self.spec(nb, rid, image, shape)
        accelerated = is_accelerator_shape(shape)
        if accelerated:
            self.accelerators.check_offered(shape)
        self.enforcer.admit(nb, shape, background, measured)
        pooled = None if accelerated else self.pool.take(PoolKey(image, spec.disk_bytes))
        if pooled is not None:  # its id names its sandbox, cgroup and token: the runtime's
            rid = pooled.runtime_id
            spec = self.spec(nb, rid, image, shape)
        link = nb.runtime = self._link(nb, rid, image, shape)
        link.shape, link.background = shape, background
        link.pooled = pooled
        if getattr(self.backend, "place_in_line", None) is None:  # it starts on this machine
            link.start_gate = self.starts
        return link, spec

    def _pool_spec(self, runtime_id: str, key: PoolKey) -> RuntimeSpec:
        """What a runtime started ahead asks for: the default tier's limits but the disk (the
        person's are set when it is given), and a small CPU share until then."""
        catalog.require_ready(self.settings, key.image)
        tier = self.settings.tiers[self.settings.default_tier]
        memory, _ = tier_limits(self.settings, tier)
        return RuntimeSpec(
            runtime_id=runtime_id, owner_id=0, drive="pool", image=key.image,
            memory_bytes=memory, cpu_weight=10, disk_bytes=key.disk_bytes,
            max_processes=tier.max_processes,
            env={"DIKTE_RUNTIME_ID": runtime_id, **self.channel_env(runtime_id)})

    def start_pool(self) -> None:
        """Start keeping runtimes ready (after the start-up sweep, which ends unrecorded ones):
        the default image's, with the default tier's disk, from now on."""
        tier = self.settings.tiers[self.settings.default_tier]
        self.pool.want(PoolKey(self.settings.default_image, tier_limits(self.settings, tier)[1]))
        self.pool.start()

    def _begin(self, link: RuntimeLink, spec: RuntimeSpec) -> asyncio.Task[None]:
        """Launch the runtime now, or once the accelerators it needs are free."""
        if not is_accelerator_shape(link.shape):
            return asyncio.create_task(link.launch(spec))
        devices = self.accelerators.try_allocate(link.runtime_id, link.shape)
        if devices is not None:
            return asyncio.create_task(link.launch(self._with_devices(link, spec, devices)))
        _, tier = self.enforcer.tier_of(link.nb.person_id)
        grant = self.accelerators.enqueue(link.runtime_id, link.nb.person_id, link.shape,
                                          tier.queue_priority)
        link.status, link.waiting_for = "queued", f"a {link.shape}"
        link.queue_position = self.accelerators.position(link.runtime_id)
        link._announce()
        return asyncio.create_task(self._launch_when_granted(link, spec, grant))

    async def _launch_when_granted(self, link: RuntimeLink, spec: RuntimeSpec,
                                   grant: asyncio.Future[list[Device]]) -> None:
        try:
            devices = await grant
        except (Cancelled, asyncio.CancelledError):
            return  # left the line (disconnected, terminated): nothing was started
        if link_of(link.nb) is not link:
            self.accelerators.end(link.runtime_id)
            return
        await link.launch(self._with_devices(link, spec, devices))

    def _with_devices(self, link: RuntimeLink, spec: RuntimeSpec,
                      devices: list[Device]) -> RuntimeSpec:
        link.devices = devices
        env, binds, masked = self.accelerators.runtime_extras(devices)
        return replace(spec, env={**spec.env, **env}, device_binds=binds, masked_paths=masked,
                       node=devices[0].node if devices else "")

    def _tell_queue(self) -> None:
        """Everyone waiting for an accelerator hears their new place in line."""
        for nb in self.notebooks.values():
            link = link_of(nb)
            if link is not None and link.status == "queued":
                position = self.accelerators.position(link.runtime_id)
                if position is not None and position != link.queue_position:
                    link.queue_position = position
                    link._announce()

    # what the runtimes report (RuntimeEvents); no one but the manager assigns nb.runtime

    def runtime_detached(self, link: RuntimeLink) -> None:
        if link.nb.runtime is link:
            link.nb.runtime = None

    def runtime_ended(self, link: RuntimeLink) -> None:
        self.accelerators.end(link.runtime_id)  # nothing to do for one that held none

    async def connect(self, nb: OpenNotebook, image: str | None = None,
                      shape: str = "standard", background: bool = False) -> RuntimeLink:
        """Give the notebook a runtime (if it has none) and wait until its kernel answers, or,
        when it waits for an accelerator, return at once with the link queued."""
        if link_of(nb) is None:
            await self._list_accelerators_for(shape)
            nb.pinned += 1  # not released while this measures (it has no runtime yet)
            try:
                measured = await self._measure(nb, shape)
            finally:
                nb.pinned -= 1
            if link_of(nb) is None:  # else another connect came first while this measured
                link, spec = self._prepare(nb, image, shape, background, measured)
                task = self._begin(link, spec)
                if link.status == "queued":
                    task.add_done_callback(_log_failure)
                    return link
                await task
                return link
        held = link_of(nb)
        assert held is not None
        link = held
        while link.status != "connected":
            if link.status == "queued":
                return link
            if link_of(nb) is not link:
                raise RuntimeUnavailable("The runtime failed to start.", code="start_failed")
            await asyncio.sleep(0.05)
        return link

    async def run(self, nb: OpenNotebook, cell_ids: list[str],
                  hashes: dict[str, str] | None = None) -> list[str]:
        """Queue cells; without a runtime, connect one in the background as Colab does. A
        refused connect (a tier limit) un-queues the cells and raises the refusal."""
        queued = nb.enqueue(cell_ids, hashes)
        if queued and link_of(nb) is None:
            try:
                measured = await self._measure(nb, "standard")
                if link_of(nb) is None:  # else a connect came meanwhile: the cells wait for it
                    link, spec = self._prepare(nb, None, measured=measured)
                    self._begin(link, spec).add_done_callback(_log_failure)
            except DikteError:
                nb.cancel(queued)
                raise
        return queued

    async def disconnect(self, nb: OpenNotebook, reason: str = "You disconnected it.") -> None:
        link = link_of(nb)
        if link is not None:
            await link.shutdown(reason)
            await nb.save()

    async def disconnect_person(self, person_id: int, reason: str) -> None:
        """End every runtime of one person (e.g. when an administrator disables them)."""
        for nb in list(self.notebooks.values()):
            if nb.person_id == person_id:
                await self.disconnect(nb, reason)
                nb.audience.close_all()

    def close_viewers(self, credential: str) -> int:
        """A sign-in ended or a token was revoked: close the notebook sockets it opened."""
        closed = 0
        for nb in self.notebooks.values():
            closed += nb.audience.close_where(credential)
            if closed and not len(nb.audience) and nb.last_viewer_left_at is None:
                nb.last_viewer_left_at = time.time()
        return closed

    def find_runtime(self, person_id: int | None, runtime_id: str) -> OpenNotebook:
        for nb in self.notebooks.values():
            link = link_of(nb)
            if link is not None and link.runtime_id == runtime_id and (
                    person_id is None or nb.person_id == person_id):
                return nb
        raise NotFound(f"There is no session {runtime_id!r}.", code="no_such_session")

    def sessions(self, person_id: int | None) -> list[dict[str, Any]]:
        out = []
        for nb in self.notebooks.values():
            link = link_of(nb)
            if link is None or (person_id is not None and nb.person_id != person_id):
                continue
            info = link.info()
            out.append({**info, "notebook_path": nb.path, "backend": self.backend.name,
                        "busy": nb.running is not None, "person_id": nb.person_id})
        return sorted(out, key=lambda s: s["started_at"])

    async def refresh_usage(self, nb: OpenNotebook) -> None:
        link = link_of(nb)
        if link is not None and link.handle is not None and link.status == "connected":
            try:
                link.last_usage = await self.backend.usage(link.handle)
            except DikteError:
                # a runtime whose machine stopped answering: the list shows the last figures,
                # and the runtime's watcher tells its person what happened
                log.info("usage of %s unavailable", link.runtime_id, exc_info=True)

    # renames and deletes in the drive

    def renamed(self, person_id: int, src: str, dst: str) -> None:
        move_grants(self.db.session, person_id, src, dst)  # secrets stay granted to it
        for (pid, path), nb in list(self.notebooks.items()):
            if pid != person_id:
                continue
            if path == src or path.startswith(src.rstrip("/") + "/"):
                new = dst + path[len(src):]
                del self.notebooks[(pid, path)]
                nb.path = new
                if nb.journal is not None:
                    nb.journal.moved(journal_path(self.journals, pid, new), new)
                self.notebooks[(pid, new)] = nb
                nb.broadcast({"type": "renamed", "path": new})
                link = link_of(nb)
                if link is not None:
                    self.db.update_runtime(link.runtime_id, notebook_path=new)

    async def deleted(self, person_id: int, path: str) -> None:
        await asyncio.to_thread(drop_grants, self.db.session, person_id, path)
        for (pid, p), nb in list(self.notebooks.items()):
            if pid == person_id and (p == path or p.startswith(path.rstrip("/") + "/")):
                nb.autosave = False
                if nb.journal is not None:
                    nb.journal.discard()
                link = link_of(nb)
                if link is not None:
                    await link.shutdown("Its notebook was deleted.")
                nb.broadcast({"type": "deleted", "path": p})
                nb.audience.close_all()
                del self.notebooks[(pid, p)]

    # control-plane start and stop

    async def reattach_all(self) -> None:
        """Find the runtimes that outlived the previous control plane; reap the rest."""
        for rec in self.db.live_runtimes():
            if rec.status == "starting":
                # the server stopped while starting it: whatever of it came to be, the sweep
                # below ends and removes (nothing is kept for a runtime nobody connected to)
                log.info("runtime %s was starting when the server stopped; removing it", rec.id)
                self.db.end_runtime(rec.id, "The server stopped while it was starting.")
                continue
            try:
                handle = await self.backend.reattach(rec.backend_state,
                                                     revive=rec.status == "restarting")
            except Exception:
                log.exception("reattaching runtime %s failed", rec.id)
                handle = None
            if handle is None:
                log.info("runtime %s ended while the server was down", rec.id)
                self.db.end_runtime(rec.id, "It ended while the server was down.")
                continue
            revived = bool(handle.private.pop("revived", False))
            if revived:
                self.db.update_runtime(rec.id, backend_state=self.backend.state(handle))
                log.info("runtime %s: its kernel was gone; a new one runs in the same "
                         "instance space", rec.id)
            try:
                nb = await self.open(rec.person_id, rec.notebook_path)
            except Exception:
                log.exception("notebook of runtime %s is gone; stopping it", rec.id)
                await self.backend.stop(handle)
                self.db.end_runtime(rec.id, "Its notebook could not be opened.")
                continue
            link = nb.runtime = self._link(nb, rec.id, rec.image, rec.shape)
            link.started_at = rec.started_at
            link.shape, link.background = rec.shape, rec.background
            if rec.devices:
                link.devices = self.accelerators.restore(rec.id, rec.devices)
            await link.reattach(handle, rec.exec_state, revived=revived)
            log.info("reattached runtime %s of %s", rec.id, rec.notebook_path)
        sweep = getattr(self.backend, "sweep", None)
        if sweep is not None:
            alive = {nb.runtime.runtime_id for nb in self.notebooks.values() if nb.runtime}
            removed = await sweep(alive)
            if removed:
                log.info("removed the empty cgroups of ended runtimes: %s", ", ".join(removed))

    async def close(self) -> None:
        """Save everything and let go of the runtimes, which keep running (those started
        ahead for nobody stop)."""
        await self.pool.close()
        await self.enforcer.stop()
        for nb in list(self.notebooks.values()):
            nb.audience.close_all()
            link = link_of(nb)
            if link is not None:
                await link.detach()
            await nb.save()


def _replay(journal: EditJournal, doc: Any) -> int | None:
    """Edits journaled for this notebook before the server stopped, applied to ``doc``: how
    many (None: there is no journal)."""
    if not journal.file.exists():
        return None
    _, batches = read_journal(journal.file)
    return replay(doc, batches)


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("background connect failed: %s", task.exception())


def sandbox_uid(settings: Settings, person_id: int) -> int | None:
    """The uid a person's files and runtimes belong to when Dikte runs as root."""
    if os.geteuid() != 0 or settings.unsafe_no_sandbox:
        return None
    return settings.sandbox_uid_base + person_id


def build_spec(settings: Settings, nb: OpenNotebook, runtime_id: str, image: str,
               memory: int | None = None) -> RuntimeSpec:
    """What a runtime for this notebook asks of the backend."""
    if image not in settings.images:
        offered = ", ".join(sorted(settings.images))
        raise BadRequest(f"There is no runtime image {image!r}; offered: {offered}.",
                         code="no_such_image")
    catalog.require_ready(settings, image)  # every way in: REST, the WebSocket, dikte run
    return RuntimeSpec(
        runtime_id=runtime_id, owner_id=nb.person_id, drive=nb.drive.root.name,
        image=image, memory_bytes=memory or settings.runtime_memory,
        cpu_weight=settings.runtime_cpu_weight, disk_bytes=settings.runtime_disk,
        max_processes=settings.tiers[settings.default_tier].max_processes,
        env={"DIKTE_RUNTIME_ID": runtime_id})
