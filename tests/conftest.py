"""Fixtures shared by every test folder, and how the run is split between workers.

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

The slow groups are marked by folder: ``browser`` (tests/e2e), ``faults`` (tests/faults) and
``cluster`` (tests/cluster); ``slow`` marks them and the longest other modules (``SLOW``), so
``-m "not slow"`` runs the fast part in 2½ minutes. Tests run on pytest-xdist's workers
(``--dist loadscope``, see pyproject.toml): each test module is one unit of work, so that its
module fixtures (a server above all) are made once, on one worker; the modules in ``SPLIT`` are
cut into that many units, each with its own module fixtures; the cluster package is one unit.
Units start in collection order, which puts the cluster first (the longest unit), then the
longest modules of each group (``LONG``), and the browser tests last (sync Playwright keeps an
event loop in its thread, see tests/e2e/conftest.py).
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
from typing import Any

import pytest

from tests.support.images import ensure_test_image, images_dir
from tests.support.server import Client, DikteServer

TESTS = Path(__file__).resolve().parent
FOLDER_MARKS = {"e2e": "browser", "faults": "faults", "cluster": "cluster"}

# the modules outside those groups that take longest (25 to 80 worker-seconds each, measured
# with --durations=0 on 2 cores): with the groups, marked slow
SLOW = {
    "tests/security/test_drive_races.py", "tests/cli/test_cli.py",
    "tests/colab/test_preemption_resume.py", "tests/images/test_build.py",
    "tests/api/test_execution.py", "tests/api/test_accounts.py",
    "tests/api/test_runtime_lifecycle.py", "tests/colab/test_notebooks.py",
}

# long modules whose tests are independent of each other, cut into this many units so that no
# one worker carries all of one (each unit makes its own module fixtures)
SPLIT = {
    "tests/cli/test_cli.py": 4,
    "tests/security/test_drive_races.py": 4,
    "tests/api/test_accounts.py": 2,
    "tests/api/test_tiers.py": 2,
    "tests/api/test_runtime_lifecycle.py": 2,
    "tests/api/test_execution.py": 2,
    "tests/faults/test_crashes.py": 3,
    "tests/cli/test_users.py": 2,
}


# the longest units (seconds of one worker, measured on 2 cores with 3 workers) start first in
# their group, so that no long one is left for the end while the other workers sit idle
LONG = {
    "tests/cli/test_cli.py": 115, "tests/colab/test_preemption_resume.py": 60,
    "tests/security/test_drive_races.py": 55, "tests/api/test_accounts.py": 38,
    "tests/faults/test_crashes.py": 37, "tests/api/test_execution.py": 32,
    "tests/images/test_build.py": 31, "tests/api/test_runtime_lifecycle.py": 30,
    "tests/colab/test_notebooks.py": 27, "tests/cli/test_users.py": 26,
    "tests/e2e/test_notebook.py": 64, "tests/e2e/test_signin_next.py": 36,
    "tests/e2e/test_colab_notebooks_browser.py": 31, "tests/e2e/test_drive.py": 30,
    "tests/e2e/test_forms.py": 30, "tests/e2e/test_outputs.py": 27,
    "tests/e2e/test_panels.py": 26,
}


def _relative(item: pytest.Item) -> Path:
    return Path(str(item.path)).resolve().relative_to(TESTS)


def _folder(item: pytest.Item) -> str:
    return _relative(item).parts[0]


def _order(item: pytest.Item) -> tuple[int, int]:
    module = str(Path("tests") / _relative(item))
    return {"cluster": 0, "e2e": 2}.get(_folder(item), 1), -LONG.get(module, 0)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks the slow groups by folder, and those and ``SLOW`` as slow; the cluster's tests
    first, the browser tests last, the longest modules first within their group."""
    items.sort(key=_order)  # stable: a module's tests keep their order
    for item in items:
        mark = FOLDER_MARKS.get(_folder(item))
        if mark is not None:
            item.add_marker(getattr(pytest.mark, mark))
        if mark is not None or str(Path("tests") / _relative(item)) in SLOW:
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadscope`` with units of our own (xdist's ``loadgroup`` cannot name them:
    pytest 9 ignores the node ids it rewrites)."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleUnits(LoadScopeScheduling):  # type: ignore[misc]
        """A test module is a unit, a SPLIT module that many, the cluster package one."""

        def __init__(self, config: pytest.Config, log: Any) -> None:
            super().__init__(config, log)
            self.units: dict[str, str] = {}
            self.counts: dict[str, int] = {}

        def _split_scope(self, nodeid: str) -> str:
            if nodeid not in self.units:  # first asked in collection order
                module = nodeid.split("::", 1)[0]
                unit = "tests/cluster" if module.startswith("tests/cluster/") else module
                if module in SPLIT:
                    n = self.counts[module] = self.counts.get(module, -1) + 1
                    unit = f"{module}:{n % SPLIT[module]}"
                self.units[nodeid] = unit
            return self.units[nodeid]

    return ModuleUnits(config, log)


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
    return new_database(postgres_url)


def new_database(postgres_url: str) -> str:
    """Make a new, empty database in the PostgreSQL server at ``postgres_url``; its URL."""
    import uuid

    from sqlalchemy import create_engine

    name = f"dikte_{uuid.uuid4().hex[:12]}"
    engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    engine.dispose()
    return postgres_url.replace("/postgres?", f"/{name}?")
