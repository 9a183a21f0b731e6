"""Fixtures for driving the real ``dikte`` command as a subprocess.

- ``cli``: a :class:`Cli` bound to the module's ``server`` (DIKTE_URL/DIKTE_TOKEN set in its
  environment); ``cli(*args)`` runs ``dikte ARGS`` (forked, see tests/support/forkserver.py)
  with a timeout and returns the completed process, ``cli.ok(*args)`` also asserts exit 0 and
  returns stdout. Every runtime still connected when the test ends is terminated at teardown.
- ``notebook``: factory ``notebook(*sources) -> path`` creating, through the CLI, a notebook in
  ``Notebooks/`` whose code cells hold ``sources`` (cell 1 is the first source).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from itertools import count
from typing import Any

import httpx
import pytest

from tests.support import forkserver
from tests.support.server import DikteServer

COMMAND = [sys.executable, "-m", "dikte.cli.main"]
_names = count()


class Cli:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, *args: str, input: str | None = None,
                 timeout: float = 90.0) -> subprocess.CompletedProcess[str]:
        # forked from the worker's fork server: the same command, without its imports' CPU
        return forkserver.starter().run(list(args), self.env, input=input, timeout=timeout)

    def ok(self, *args: str, input: str | None = None, timeout: float = 90.0) -> str:
        r = self(*args, input=input, timeout=timeout)
        assert r.returncode == 0, f"dikte {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r.stdout

    def view(self, path: str) -> dict[str, Any]:
        """``dikte notebook show --json PATH``, parsed."""
        return dict(json.loads(self.ok("notebook", "show", "--json", path)))

    def wait_view(self, path: str, pred: Callable[[dict[str, Any]], bool],
                  timeout: float = 60.0) -> dict[str, Any]:
        """Poll the server's view of the notebook (what ``show --json`` prints) until
        ``pred(view)`` holds, then return ``show --json``'s, for which it holds too. Polled
        through the API: a ``dikte`` process every 0.1 s would keep a core busy."""
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.env["DIKTE_URL"], timeout=60,
                          headers={"Authorization": f"Bearer {self.env['DIKTE_TOKEN']}"}) as http:
            while True:
                view = http.get("/api/notebooks/view", params={"path": path}).json()
                if pred(view):
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(f"timed out waiting on {path}; last view:\n"
                                         f"{json.dumps(view, indent=1)[-3000:]}")
                time.sleep(0.1)
        view = self.view(path)
        assert pred(view), json.dumps(view, indent=1)[-3000:]
        return view


@pytest.fixture
def cli(server: DikteServer) -> Iterator[Cli]:
    env = {**os.environ, "DIKTE_URL": server.url, "DIKTE_TOKEN": server.token,
           "PYTHONUNBUFFERED": "1"}
    yield Cli(env)
    server.terminate_sessions()


@pytest.fixture
def notebook(cli: Cli) -> Callable[..., str]:
    def make(*sources: str) -> str:
        path = f"Notebooks/cli-{next(_names)}.ipynb"
        cli.ok("notebook", "create", path)
        first = cli.view(path)["notebook"]["cells"][0]["id"]
        for source in sources:
            cli.ok("notebook", "add", path, source)
        cli.ok("notebook", "delete-cell", path, first)
        return path

    return make
