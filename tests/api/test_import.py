"""Open from URL ("Save a copy in Drive") against a real server: notebooks fetched from a local
HTTP server and cloned out of a local git repository served by ``git daemon``; malformed,
oversized and private-address refusals; names that never overwrite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import nbformat
import pytest

from dikte.config import Settings
from dikte.errors import DikteError
from dikte.transfers.imports import Importer
from tests.support.remote import GitDaemon, LocalWeb, Reply, json_bytes, make_repo, notebook_bytes
from tests.support.server import Client, DikteServer

LIMIT = 200_000


@pytest.fixture(scope="module")
def web() -> Iterator[LocalWeb]:
    srv = LocalWeb()
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, web: LocalWeb) -> Iterator[DikteServer]:
    """Allows private addresses (the test's servers are on 127.0.0.1) and maps github.com links
    to the local web server."""
    srv = DikteServer(tmp_path_factory.mktemp("importsrv") / "data", env={
        "DIKTE_IMPORT_ALLOW_PRIVATE_ADDRESSES": "true",
        "DIKTE_IMPORT_MAX_BYTES": str(LIMIT),
        "DIKTE_IMPORT_GITHUB_RAW_URL": f"{web.url}/raw",
    })
    srv.start()
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitDaemon]:
    base = tmp_path_factory.mktemp("repos")
    make_repo(base / "lab", {
        "notebooks/intro.ipynb": notebook_bytes("print('from main')"),
        "notebooks/broken.ipynb": b'{"cells": 3}',
        "README.md": b"# lab\n",
    }, branches={"v2": {"notebooks/intro.ipynb": notebook_bytes("print('from v2')")}})
    d = GitDaemon(base, base.parent / "git-daemon.log")
    yield d
    d.close()


def import_(client: Client, **body: Any) -> httpx.Response:
    return client.http.post("/api/notebooks/import", json=body)


def listing(client: Client, folder: str) -> list[str]:
    r = client.http.get("/api/drive/list", params={"path": folder})
    return [] if r.status_code == 404 else [e["name"] for e in r.json()["entries"]]


def saved(client: Client, path: str) -> Any:
    return nbformat.reads(client.http.get(f"/api/drive/files/{path}").text, as_version=4)


def error(r: httpx.Response, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["code"] == code, body
    assert "Traceback" not in r.text
    return str(body["message"])


def test_a_notebook_url_is_copied_under_a_name_that_overwrites_nothing(
        client: Client, web: LocalWeb) -> None:
    web.routes["/nb/Lesson.ipynb"] = Reply(body=notebook_bytes("x = 1", markdown="# Lesson"))
    paths = []
    for _ in range(3):
        r = import_(client, url=f"{web.url}/nb/Lesson.ipynb", folder="Imported")
        assert r.status_code == 201, r.text
        paths.append(r.json()["path"])
    assert paths == ["Imported/Lesson.ipynb", "Imported/Lesson (1).ipynb",
                     "Imported/Lesson (2).ipynb"]
    nb = saved(client, "Imported/Lesson (1).ipynb")
    assert [c.cell_type for c in nb.cells] == ["markdown", "code"]
    assert nb.cells[1].source == "x = 1" and all("id" in c for c in nb.cells)
    # the copy opens like any notebook
    view = client.view("Imported/Lesson.ipynb")
    assert view["notebook"]["cells"][0]["source"] == "# Lesson"


def test_the_default_folder_is_notebooks(client: Client, web: LocalWeb) -> None:
    web.routes["/nb/default.ipynb"] = Reply(body=notebook_bytes("1"))
    r = import_(client, url=f"{web.url}/nb/default.ipynb")
    assert r.status_code == 201 and r.json()["path"] == "Notebooks/default.ipynb"
    assert r.json()["kind"] == "notebook"


def test_github_blob_links_fetch_the_raw_file(client: Client, web: LocalWeb) -> None:
    web.routes["/raw/ada/lab/main/course/week1.ipynb"] = Reply(body=notebook_bytes("print(1)"))
    r = import_(client, url="https://github.com/ada/lab/blob/main/course/week1.ipynb",
                folder="GH")
    assert r.status_code == 201, r.text
    assert r.json()["path"] == "GH/week1.ipynb"
    assert "/raw/ada/lab/main/course/week1.ipynb" in web.requests


def test_redirects_are_followed(client: Client, web: LocalWeb) -> None:
    web.routes["/nb/target.ipynb"] = Reply(body=notebook_bytes("2"))
    web.routes["/go"] = Reply(302, headers={"Location": "/nb/target.ipynb"})
    r = import_(client, url=f"{web.url}/go", folder="Redirected")
    assert r.status_code == 201, r.text
    # the name comes from the link given, with .ipynb added
    assert r.json()["path"] == "Redirected/go.ipynb"


def test_a_redirect_to_another_scheme_is_refused(client: Client, web: LocalWeb) -> None:
    web.routes["/to-file"] = Reply(302, headers={"Location": "file:///etc/passwd"})
    message = error(import_(client, url=f"{web.url}/to-file", folder="Nope"), 400,
                    "bad_url_scheme")
    assert "file:///etc/passwd" in message
    assert listing(client, "Nope") == []


@pytest.mark.parametrize(("body", "problem"), [
    (b"this is not json", "it is not JSON"),
    (json_bytes({"cells": [], "metadata": {}, "nbformat": 4}), "nbformat_minor"),
    (json_bytes({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                 "cells": [{"cell_type": "sorcery", "source": "", "metadata": {}}]}),
     "'sorcery' is not a cell type"),
])
def test_a_malformed_notebook_is_refused_and_nothing_is_saved(
        client: Client, web: LocalWeb, body: bytes, problem: str) -> None:
    web.routes["/nb/broken.ipynb"] = Reply(body=body)
    message = error(import_(client, url=f"{web.url}/nb/broken.ipynb", folder="Broken"), 422,
                    "invalid_notebook")
    assert message.startswith("broken.ipynb is not a valid notebook") and problem in message
    assert listing(client, "Broken") == []


@pytest.mark.parametrize("chunked", [False, True])
def test_an_oversized_notebook_is_refused(client: Client, web: LocalWeb, chunked: bool) -> None:
    big = b"x" * (LIMIT + 1)
    web.routes["/nb/big.ipynb"] = Reply(body=[big[i:i + 8192] for i in range(0, len(big), 8192)]
                                        if chunked else big)
    message = error(import_(client, url=f"{web.url}/nb/big.ipynb", folder="Big"), 413, "too_large")
    assert "195.3 KiB" in message  # the limit, said in the sentence
    assert listing(client, "Big") == []


def test_a_missing_file_says_what_the_server_answered(client: Client, web: LocalWeb) -> None:
    message = error(import_(client, url=f"{web.url}/nb/nothing.ipynb"), 400, "fetch_failed")
    assert "404" in message


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/a.ipynb",
                                 "/etc/passwd", "gopher://127.0.0.1/"])
def test_other_schemes_are_refused(client: Client, url: str) -> None:
    error(import_(client, url=url), 400, "bad_url_scheme")


def test_a_notebook_is_copied_out_of_a_git_repository(client: Client, daemon: GitDaemon) -> None:
    r = import_(client, url=f"{daemon.url}/lab", repo_path="notebooks/intro.ipynb", folder="Git")
    assert r.status_code == 201, r.text
    assert r.json()["path"] == "Git/intro.ipynb"
    assert saved(client, "Git/intro.ipynb").cells[0].source == "print('from main')"
    r = import_(client, url=f"{daemon.url}/lab", repo_path="notebooks/intro.ipynb", ref="v2",
                folder="Git")
    assert r.status_code == 201 and r.json()["path"] == "Git/intro (1).ipynb"
    assert saved(client, "Git/intro (1).ipynb").cells[0].source == "print('from v2')"


@pytest.mark.parametrize(("repo_path", "ref", "status", "code", "said"), [
    ("notebooks/missing.ipynb", None, 400, "not_in_repo", "no notebooks/missing.ipynb"),
    ("notebooks/broken.ipynb", None, 422, "invalid_notebook", "not a valid notebook"),
    ("notebooks/intro.ipynb", "no-such-branch", 400, "clone_failed", "no-such-branch"),
])
def test_git_refusals(client: Client, daemon: GitDaemon, repo_path: str, ref: str | None,
                      status: int, code: str, said: str) -> None:
    body = {"url": f"{daemon.url}/lab", "repo_path": repo_path, "folder": "GitBad"}
    message = error(import_(client, **body, **({"ref": ref} if ref else {})), status, code)
    assert said in message
    assert listing(client, "GitBad") == []


def test_local_repositories_are_refused(client: Client, daemon: GitDaemon,
                                        tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "local", {"a.ipynb": notebook_bytes("1")}, {})
    for url in (f"file://{repo}", str(repo), "ssh://127.0.0.1/lab", "ext::git-daemon-pwned"):
        error(import_(client, url=url, repo_path="a.ipynb"), 400, "bad_url_scheme")


def test_private_addresses_are_refused_by_default(
        fresh_server: Callable[..., DikteServer], web: LocalWeb, daemon: GitDaemon) -> None:
    client = fresh_server().start().client()
    web.routes["/nb/private.ipynb"] = Reply(body=notebook_bytes("1"))
    before = len(web.requests)
    for body in ({"url": f"{web.url}/nb/private.ipynb"},
                 {"url": "http://localhost:1/x.ipynb"},
                 {"url": "http://[::1]:1/x.ipynb"},
                 {"url": f"{daemon.url}/lab", "repo_path": "notebooks/intro.ipynb"}):
        message = error(import_(client, **body), 403, "private_address")
        assert "import_allow_private_addresses" in message
    assert len(web.requests) == before  # refused before any request was made
    assert listing(client, "Notebooks") == []


# ---- the fetcher itself, in this process -------------------------------------------------------


@pytest.fixture
def second_web() -> Iterator[LocalWeb]:
    """A web server on another loopback address, 127.0.0.2."""
    srv = LocalWeb("127.0.0.2")
    yield srv
    srv.close()


def _only_127_0_0_1_is_public(address: str) -> str | None:
    return None if address == "127.0.0.1" else f"{address} is a private address"


async def test_a_redirect_to_a_private_address_is_refused(
        tmp_path: Path, web: LocalWeb, second_web: LocalWeb) -> None:
    """127.0.0.1 stands for a public server here; its redirect to 127.0.0.2 must be refused."""
    second_web.routes["/secret.ipynb"] = Reply(body=notebook_bytes("secret"))
    web.routes["/bounce"] = Reply(302, headers={"Location": f"{second_web.url}/secret.ipynb"})
    web.routes["/fine.ipynb"] = Reply(body=notebook_bytes("fine"))
    importer = Importer(Settings(data_dir=tmp_path), address_policy=_only_127_0_0_1_is_public)
    assert b"fine" in await importer.fetch_http(f"{web.url}/fine.ipynb")
    with pytest.raises(DikteError) as info:
        await importer.fetch_http(f"{web.url}/bounce")
    assert info.value.code == "private_address" and info.value.status == 403
    assert second_web.requests == []


async def test_a_server_that_never_answers_times_out(tmp_path: Path, web: LocalWeb) -> None:
    web.routes["/slow.ipynb"] = Reply(hang=True)
    importer = Importer(Settings(data_dir=tmp_path, import_timeout_seconds=1,
                                 import_allow_private_addresses=True))
    with pytest.raises(DikteError) as info:
        await importer.fetch(importer_source(f"{web.url}/slow.ipynb"))
    assert info.value.code == "fetch_timeout" and "1 s" in info.value.message


def importer_source(url: str) -> Any:
    from dikte.transfers.import_source import HttpSource

    return HttpSource(url=url, name="slow.ipynb")
