"""Fixtures shared by every test folder.

- ``runtime_image`` (session, used by every test): the ``minimal`` runtime image, built once into
  a cache that outlives test runs (tests/support/images.py); ``DIKTE_IMAGES_DIR`` points every
  server and CLI the tests start at that cache, so their runtimes use it. Its value is the
  image's python.
- ``server``: a real ``dikte serve`` (sandboxed runtimes) on a free port with its own data dir,
  started once per test module; ``.client()`` gives an authenticated API client.
- ``client``: ``server.client()`` for the admin.
- ``fresh_server``: a factory for servers a test starts, stops and restarts itself.
- ``postgres_db``: the URL of a new, empty database in that server.
- ``postgres_url``: a throwaway PostgreSQL server (Debian's postgresql, started by the test run
  as the ``postgres`` user on a unix socket in a temporary directory) and its SQLAlchemy URL.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.images import ensure_test_image, images_dir
from tests.support.server import Client, DikteServer


@pytest.fixture(scope="session", autouse=True)
def runtime_image() -> Iterator[Path]:
    python = ensure_test_image()
    before = os.environ.get("DIKTE_IMAGES_DIR")
    os.environ["DIKTE_IMAGES_DIR"] = str(images_dir())
    yield python
    if before is None:
        os.environ.pop("DIKTE_IMAGES_DIR", None)
    else:
        os.environ["DIKTE_IMAGES_DIR"] = before


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


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    bindir = _pg_bin()
    if bindir is None:
        pytest.fail("PostgreSQL is not installed; ./test.sh installs Debian's postgresql")
    base = Path(tempfile.mkdtemp(prefix="dikte-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        pw = pwd.getpwnam("postgres")
        for p in (base, sock):
            os.chown(p, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    run = {"check": True, "stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT}
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "dikte",
                    "--auth=trust", "-E", "UTF8"], **run)  # type: ignore[call-overload]
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l",
                    str(base / "log"), "-o", f"-k {sock} -c listen_addresses=''", "start"],
                   **run)  # type: ignore[call-overload]
    try:
        yield f"postgresql+psycopg://dikte@/postgres?host={sock}"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_db(postgres_url: str) -> str:
    """The URL of a new, empty database in the throwaway PostgreSQL server."""
    import uuid

    from sqlalchemy import create_engine

    name = f"dikte_{uuid.uuid4().hex[:12]}"
    engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    engine.dispose()
    return postgres_url.replace("/postgres?", f"/{name}?")
