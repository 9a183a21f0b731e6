"""Fixtures shared by every test folder.

- ``server``: a real ``dikte serve`` (sandboxed runtimes) on a free port with its own data dir,
  started once per test module; ``.client()`` gives an authenticated API client.
- ``client``: ``server.client()`` for the admin.
- ``fresh_server``: a factory for servers a test starts, stops and restarts itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.server import Client, DikteServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DikteServer]:
    srv = DikteServer(tmp_path_factory.mktemp("srv") / "data",
                      env={"DIKTE_RUNTIME_MEMORY": "2GiB"})
    srv.start()
    yield srv
    srv.close()


@pytest.fixture
def client(server: DikteServer) -> Client:
    return server.client()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[Callable[..., DikteServer]]:
    started: list[DikteServer] = []

    def make(*extra: str, **env: str) -> DikteServer:
        srv = DikteServer(tmp_path / f"data{len(started)}", *extra, env=env)
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.close()
