"""Dikte's app in the test's own process: ``create_app`` with its lifespan (database, backend,
reaper: everything ``dikte serve`` wires), called through ASGI by httpx: no port, no server
process, no HTTP parsing. For API tests that send thousands of requests or need no real socket;
tests of what a real server does (restarts, kill -9, WebSockets from a browser) use
:class:`tests.support.server.DikteServer`.

The runtime channel is off (there is no address for runtimes to reach), as with a server whose
runtimes cannot reach it; runtimes start as under ``dikte serve``, in the configured backend, and
are disconnected when the app stops.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from fastapi import FastAPI

from dikte.app import create_app
from dikte.config import Settings, load_settings
from tests.support.server import ROOMY_TIER

URL = "http://dikte.test:8750"
"""A port of its own: requests without one look like the runtimes' unix socket to the app."""


@dataclass
class InProcess:
    app: FastAPI
    settings: Settings
    token: str
    """The admin's token."""
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    def client(self, token: str | None = None, *, origin: bool = False) -> httpx.AsyncClient:
        """An API client with ``token`` (the admin's by default; "" for none), closed with the
        app; ``origin``: its requests say they come from Dikte's own pages, as a browser's."""
        token = self.token if token is None else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if origin:
            headers["Origin"] = URL
        # an error in the app is a 500 answer, as from a real server
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        client = httpx.AsyncClient(transport=transport, base_url=URL,
                                   headers=headers, timeout=120)
        self.clients.append(client)
        return client

    async def terminate_sessions(self) -> None:
        """Disconnect everyone's runtimes: a stopped server leaves them running, by design."""
        admin = self.client()
        for session in (await admin.get("/api/admin/sessions")).json():
            r = await admin.delete(f"/api/admin/sessions/{session['runtime_id']}")
            assert r.status_code < 300, r.text

    async def person(self, name: str,
                     scopes: tuple[str, ...] = ("write",)) -> tuple[int, httpx.AsyncClient]:
        """A person made through the admin API, who signs in with a password and makes a token
        of their own (with ``scopes``): their id and an API client with that token."""
        password = f"password-of-{name}"
        made = await self.client().post("/api/people", json={"name": name, "password": password})
        assert made.status_code in (200, 201), made.text
        web = self.client("", origin=True)
        r = await web.post("/api/auth/login", json={"name": name, "password": password})
        assert r.status_code == 200, r.text
        r = await web.post("/api/tokens", json={"name": "scripts", "scopes": list(scopes)})
        assert r.status_code == 201, r.text
        return int(made.json()["id"]), self.client(r.json()["token"])


def app_settings(data_dir: Path, config: str = ROOMY_TIER, **env: str) -> Settings:
    """Settings as ``dikte serve`` reads them: ``config`` (TOML) written beside ``data_dir``,
    ``env`` as DIKTE_* variables besides this process's environment."""
    data_dir.mkdir(parents=True, exist_ok=True)
    config_file = data_dir.parent / f"{data_dir.name}.toml"
    config_file.write_text(config)
    # no runtimes started ahead unless a test asks (as tests/support/server.py's servers)
    return load_settings(config_file, environ={**os.environ, "DIKTE_RUNTIME_POOL": "0", **env},
                         data_dir=data_dir)


@asynccontextmanager
async def dikte_app(settings: Settings) -> AsyncIterator[InProcess]:
    """The app over ``settings`` (see :func:`app_settings`), started and stopped."""
    tokens: list[str] = []
    app = create_app(settings, announce=tokens.append)
    async with app.router.lifespan_context(app):
        running = InProcess(app, settings, tokens[0])
        try:
            yield running
        finally:
            await running.terminate_sessions()
            for client in running.clients:
                await client.aclose()
