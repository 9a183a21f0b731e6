"""The composition root: ``create_app(settings)`` wires everything, visibly, in one place."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from dikte import __version__
from dikte.api import (
    admin,
    invitations,
    meta,
    notebook_io,
    notebooks,
    people,
    port_proxy,
    runtime_channel,
    runtime_files,
    secrets,
    sessions,
    terminal,
    tokens,
    uploads,
    usage,
    web,
    ws,
)
from dikte.api import drive as drive_api
from dikte.api import errors as api_errors
from dikte.api.deps import Services
from dikte.api.login_limits import KnownDevices
from dikte.bridge.channel import RuntimeChannel
from dikte.bridge.port_proxy import PortProxy
from dikte.config import Settings
from dikte.control.enforcement import tier_for
from dikte.control.manager import SessionManager, sandbox_uid
from dikte.db import Database
from dikte.db.secrets import SecretBox
from dikte.drive import Drive
from dikte.drive.tree import remove_interrupted_saves
from dikte.images import catalog
from dikte.keys import derive_key
from dikte.runtimes.base import RuntimeBackend
from dikte.transfers.uploads import Uploads

log = logging.getLogger(__name__)


def make_backend(settings: Settings) -> RuntimeBackend:
    """The configured runtime backend (found by name among the installed ones, see
    :mod:`dikte.runtimes.registry`); the unsandboxed one only when explicitly asked for."""
    from dikte.runtimes import registry

    name = "unsandboxed" if settings.unsafe_no_sandbox else settings.runtime_backend
    return registry.make(name, settings)


async def open_cluster_channel(settings: Settings, backend: Any) -> Any:
    """The TLS port where the cluster's nodes bring their runtimes' channel connections,
    handed to this server's unix control socket; tells the backend its address and
    certificate. Returns the server (close it at shutdown)."""
    import ray

    from dikte.runtimes import netns, tunnel

    await backend.connect()
    host, _, port = settings.cluster_channel.rpartition(":")
    if not settings.cluster_channel:
        host, port = ray.util.get_node_ip_address(), "0"  # type: ignore[no-untyped-call]
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), int(port)))
    folder = settings.data_dir / "cluster"
    server = await tunnel.serve_channel_port(
        sock, folder, netns.control_dir(settings.data_dir) / netns.CONTROL_SOCKET)
    cert, _ = tunnel.certificate(folder)
    bound = sock.getsockname()
    backend.channel = {"address": f"[{bound[0]}]:{bound[1]}" if family == socket.AF_INET6
                       else f"{bound[0]}:{bound[1]}", "cert": cert.read_text()}
    return server


ACCELERATOR_REFRESH_SECONDS = 15.0


async def _follow_accelerators(backend: Any, manager: SessionManager) -> None:
    """A cluster's accelerators change as nodes join and go: offer what is there now."""
    while True:
        await asyncio.sleep(ACCELERATOR_REFRESH_SECONDS)
        try:
            manager.accelerators.update(await backend.accelerators())
        except Exception:
            log.warning("the cluster's accelerators could not be listed", exc_info=True)


def drive_factory(settings: Settings, db: Database | None = None) -> Callable[[int], Drive]:
    """Each person's drive, with their tier's drive quota (looked up at each use: tiers change)."""
    drives: dict[int, Drive] = {}

    def drive_for(person_id: int) -> Drive:
        if person_id not in drives:
            drives[person_id] = Drive(settings.drives_root() / str(person_id),
                                      owner_uid=sandbox_uid(settings, person_id))
        drive = drives[person_id]
        if db is not None:
            drive.quota_bytes = tier_for(settings, db, person_id)[1].drive_quota
        return drive

    return drive_for


class RuntimeSocketOnly:
    """On the socket bound into runtimes (a unix socket: no port), only the runtime channel
    answers; everything else of the app is for browsers and programs on the TCP port."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        if (scope["type"] in ("http", "websocket") and server is not None
                and server[1] is None and not scope["path"].startswith("/api/runtime-channel/")):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            body = b'{"error":{"code":"not_found","message":"Only the runtime channel answers here."}}'
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def prepare_data_dir(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.data_dir, 0o700)


def check_images(settings: Settings) -> None:
    """Choose the default image among those built (unless the config names one) and say which
    images are not built and how to build them: one line each."""
    settings.default_image = catalog.choose_default(settings)
    images = catalog.states(settings)
    if not any(image.ready for image in images):
        log.warning("no runtime image is built, so no notebook can run yet; build one with: "
                    "dikte image build minimal (small) or dikte image build colab (Colab's "
                    "packages)" if {"colab", "minimal"} <= settings.images.keys() else
                    "no runtime image is built; build one with: dikte image build NAME")
        return
    for image in images:
        if image.built_by_dikte and not image.ready:
            log.warning("runtime image %s is not built; build it with: %s", image.name,
                        catalog.build_command(image.name))
        elif not image.ready:
            log.warning("runtime image %s: its python %s does not exist", image.name,
                        image.python)
    log.info("new runtimes use the runtime image %s", settings.default_image)


def create_app(settings: Settings, *, announce: Callable[[str], None] | None = None,
               control_url: str | None = None) -> FastAPI:
    """Build the ASGI app. ``announce`` receives the first admin token, printed once;
    ``control_url`` is where runtimes reach this server (the runtime channel is off without)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        prepare_data_dir(settings)
        check_images(settings)
        db = Database(settings.db_url)
        db.migrate()
        token = db.ensure_admin(settings.first_admin_tier)
        if token is not None:
            (announce or _print_token)(token)
        backend = make_backend(settings)
        cluster_channel = None
        accelerators = None
        if backend.name == "ray":
            cluster_channel = await open_cluster_channel(settings, backend)
            accelerators = await backend.accelerators()  # type: ignore[attr-defined]
        channel = RuntimeChannel()  # code in runtimes <-> the notebook's tabs
        if control_url is not None:
            channel.configure(derive_key(settings.data_dir, "runtime-channel"), control_url)
        manager = SessionManager(settings, db, backend, drive_factory(settings, db),
                                 accelerators=accelerators, channel_env=channel.runtime_env)
        app.state.services = Services(settings=settings, db=db, backend=backend,
                                      sessions=manager, channel=channel)
        app.state.secret_box = SecretBox(derive_key(settings.data_dir, "secrets"))
        app.state.port_proxy = PortProxy(derive_key(settings.data_dir, "port-proxy"))
        app.state.known_devices = KnownDevices(derive_key(settings.data_dir, "known-device"))
        app.state.uploads = Uploads(settings.data_dir / "uploads",
                                    max_bytes=settings.upload_max_bytes)
        await asyncio.to_thread(app.state.uploads.remove_stale)  # parts untouched for a day
        await asyncio.to_thread(remove_interrupted_saves, settings.drives_root())
        await manager.recover_journals()
        await manager.reattach_all()
        manager.enforcer.start()
        manager.start_pool()
        refresher = (asyncio.create_task(_follow_accelerators(backend, manager))
                     if accelerators is not None else None)
        try:
            yield
        finally:
            if refresher is not None:
                refresher.cancel()
            await manager.close()
            if cluster_channel is not None:
                cluster_channel.close()
                await backend.close()  # type: ignore[attr-defined]
            db.close()

    app = FastAPI(title="Dikte", version=__version__, lifespan=lifespan,
                  docs_url="/api/docs", redoc_url=None, openapi_url="/api/openapi.json")
    api_errors.install(app)
    app.add_middleware(RuntimeSocketOnly)
    for router in (meta.router, web.router, invitations.router, people.router,
                   invitations.admin_router, admin.router, tokens.router, drive_api.router,
                   notebooks.router, sessions.router, usage.router, ws.router, runtime_files.router,
                   uploads.router, terminal.router, notebook_io.router, secrets.router,
                   port_proxy.router, runtime_channel.router):
        app.include_router(router)
    web.mount_frontend(app)
    return app


def _print_token(token: str) -> None:
    print(
        "\nDikte created the admin account. Its token is shown only this once:\n\n"
        f"    {token}\n\n"
        "In the browser: 'Use an access token instead' on the sign-in page (or give the admin a\n"
        "password: dikte user passwd admin). For the CLI: export DIKTE_TOKEN=<token>; for the\n"
        "API: 'Authorization: Bearer <token>'.\n",
        file=sys.stderr, flush=True)
