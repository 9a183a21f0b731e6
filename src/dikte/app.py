"""The composition root: ``create_app(settings)`` wires everything, visibly, in one place."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

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
from dikte.config import Settings
from dikte.db import Database
from dikte.db.secrets import SecretBox
from dikte.drive import Drive
from dikte.drive.tree import remove_interrupted_saves
from dikte.errors import SandboxUnavailable
from dikte.images import catalog
from dikte.keys import derive_key
from dikte.runtimes.base import RuntimeBackend
from dikte.sessions.enforcement import tier_for
from dikte.sessions.manager import SessionManager, sandbox_uid
from dikte.sessions.port_proxy import PortProxy
from dikte.sessions.uploads import Uploads

log = logging.getLogger(__name__)


def make_backend(settings: Settings) -> RuntimeBackend:
    """The local sandboxed backend, or the unsandboxed one when explicitly asked for."""
    if settings.unsafe_no_sandbox:
        from dikte.runtimes.unsandboxed import UnsandboxedBackend

        return UnsandboxedBackend(settings.data_dir)
    from dikte.runtimes.doctor import host_report
    from dikte.runtimes.local import LocalBackend

    report = host_report(network=settings.runtime_network)
    if not report.sandbox_ok:
        raise SandboxUnavailable(
            "This host cannot build the runtime sandbox:\n" + report.render()
            + "\nFix the above, or run with --unsafe-no-sandbox for single-person development.")
    return LocalBackend(settings.data_dir, sandbox_uid_base=settings.sandbox_uid_base,
                        network=settings.runtime_network)


def drive_factory(settings: Settings, db: Database | None = None) -> Callable[[int], Drive]:
    """Each person's drive, with their tier's drive quota (looked up at each use: tiers change)."""
    drives: dict[int, Drive] = {}

    def drive_for(person_id: int) -> Drive:
        if person_id not in drives:
            drives[person_id] = Drive(settings.data_dir / "drives" / str(person_id),
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
        manager = SessionManager(settings, db, backend, drive_factory(settings, db))
        if control_url is not None:
            manager.channel.configure(derive_key(settings.data_dir, "runtime-channel"),
                                      control_url)
        app.state.services = Services(settings=settings, db=db, backend=backend,
                                      sessions=manager)
        app.state.secret_box = SecretBox(derive_key(settings.data_dir, "secrets"))
        app.state.port_proxy = PortProxy(derive_key(settings.data_dir, "port-proxy"))
        app.state.known_devices = KnownDevices(derive_key(settings.data_dir, "known-device"))
        app.state.uploads = Uploads(settings.data_dir / "uploads",
                                    max_bytes=settings.upload_max_bytes)
        await asyncio.to_thread(app.state.uploads.remove_stale)  # parts untouched for a day
        await asyncio.to_thread(remove_interrupted_saves, settings.data_dir / "drives")
        await manager.recover_journals()
        await manager.reattach_all()
        manager.enforcer.start()
        try:
            yield
        finally:
            await manager.close()
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
