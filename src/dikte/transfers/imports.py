"""Open from URL ("Save a copy in Drive"): fetch a notebook over http(s) or out of a git
repository, validate it, and save a copy in the person's drive under a name that overwrites
nothing ("intro.ipynb", then "intro (1).ipynb", ...).

Limits: at most ``import_max_bytes`` for the notebook, ``import_clone_max_bytes`` for a clone,
``import_timeout_seconds`` for the whole fetch. Unless ``import_allow_private_addresses`` is set,
every address the URL's host resolves to must be public, every redirect is checked the same way
before it is followed, and for http(s) the address a connection actually reached is checked again
before anything is read from it (a name that resolves differently the second time gains
nothing). Git resolves the name again itself, so for a repository only the first check holds; it
runs with only the http, https and git protocols allowed, no redirects, no prompts, no system or
personal configuration, and without checking out any file: the notebook is read from git's object
store, so nothing in the repository (links, filters, hooks) is ever acted on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

from dikte.config import Settings, format_size
from dikte.drive import Drive, Entry, notebooks
from dikte.drive.paths import clean_parts, join
from dikte.errors import BadRequest, Conflict, Forbidden, PayloadTooLarge
from dikte.transfers.import_source import (
    HTTP_SCHEMES,
    NOTEBOOK,
    GitSource,
    HttpSource,
    address_refusal,
    display_url,
    source_for,
)

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
_CHUNK = 64 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443, "git": 9418}
_MAX_COPIES = 1000


def _fetch_failed(url: str, why: str) -> BadRequest:
    return BadRequest(f"{display_url(url)} could not be fetched: {why}.", code="fetch_failed")


def _too_large(url: str, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The notebook at {display_url(url)} is larger than the {format_size(limit)} limit "
        "for opening from a URL. Download it and upload it to your drive instead.")


class Importer:
    """Fetches notebooks for one server's settings. ``address_policy`` says why an address may
    not be reached (None: it may); tests pass one that counts a loopback address as public."""

    def __init__(self, settings: Settings,
                 address_policy: Callable[[str], str | None] = address_refusal) -> None:
        self.settings = settings
        self.address_policy = address_policy

    # ---- addresses ---------------------------------------------------------------------------

    def _check_address(self, url: str, address: str) -> None:
        if self.settings.import_allow_private_addresses:
            return
        why = self.address_policy(address)
        if why is not None:
            raise Forbidden(
                f"{display_url(url)} leads to {why}; the server does not fetch from its own "
                "network. An administrator can allow it with import_allow_private_addresses.",
                code="private_address", log_message=f"import refused: {display_url(url)}: {why}")

    async def check_host(self, url: str) -> None:
        """Refuse a URL whose host resolves to any address that is not public."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 443)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port,
                                                                 type=socket.SOCK_STREAM)
        except OSError:
            raise _fetch_failed(url, f"the name {host} was not found") from None
        for info in infos:
            self._check_address(url, str(info[4][0]))

    # ---- http --------------------------------------------------------------------------------

    async def fetch_http(self, url: str) -> bytes:
        limit = self.settings.import_max_bytes
        # trust_env=False: a proxy from the environment would hide the address really reached
        async with httpx.AsyncClient(follow_redirects=False, trust_env=False,
                                     timeout=self.settings.import_timeout_seconds + 5) as client:
            for _ in range(MAX_REDIRECTS + 1):
                await self.check_host(url)
                try:
                    async with client.stream("GET", url, headers={"Accept": "application/json, */*"}
                                             ) as response:
                        stream = response.extensions.get("network_stream")
                        peer = stream.get_extra_info("server_addr") if stream else None
                        if peer is None:
                            raise _fetch_failed(url, "the address reached is unknown")
                        self._check_address(url, str(peer[0]))
                        if response.is_redirect and "location" in response.headers:
                            url = urljoin(url, response.headers["location"])
                            if urlsplit(url).scheme.lower() not in HTTP_SCHEMES:
                                raise BadRequest(
                                    f"The link redirects to {display_url(url)}, which is not an "
                                    "http or https URL.", code="bad_url_scheme")
                            continue
                        if response.status_code != 200:
                            raise _fetch_failed(url, f"the server answered {response.status_code} "
                                                f"{response.reason_phrase}".rstrip())
                        declared = response.headers.get("content-length", "")
                        if declared.isdigit() and int(declared) > limit:
                            raise _too_large(url, limit)
                        data = bytearray()
                        async for chunk in response.aiter_bytes(_CHUNK):
                            data += chunk
                            if len(data) > limit:
                                raise _too_large(url, limit)
                        return bytes(data)
                except httpx.HTTPError as exc:
                    raise _fetch_failed(url, _http_reason(exc)) from None
        raise _fetch_failed(url, f"it redirects more than {MAX_REDIRECTS} times")

    # ---- git ---------------------------------------------------------------------------------

    def _git_env(self, home: Path) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "/bin/false",
            "SSH_ASKPASS": "/bin/false",
            "GIT_ALLOW_PROTOCOL": "http:https:git",
            "GIT_PROTOCOL_FROM_USER": "0",
            "LC_ALL": "C",
        }

    async def _git(self, args: list[str], home: Path, watch: Path | None = None) -> bytes:
        """Run git; stop it (and everything it started) past the clone size limit."""
        try:
            proc = await asyncio.create_subprocess_exec(
                "git", "-c", "http.followRedirects=false", "-c", "core.hooksPath=/dev/null",
                *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, env=self._git_env(home), start_new_session=True)
        except FileNotFoundError:
            raise BadRequest("This server cannot clone repositories: git is not installed.",
                             code="git_missing") from None
        limit = self.settings.import_clone_max_bytes
        try:
            done = asyncio.ensure_future(proc.communicate())
            while True:
                finished, _ = await asyncio.wait({done}, timeout=0.25)
                if finished:
                    out, err = done.result()
                    break
                if watch is not None and _size(watch) > limit:
                    raise PayloadTooLarge(
                        f"The repository is larger than the {format_size(limit)} a clone may "
                        "take here. Download the notebook itself and upload it instead.",
                        code="too_large")
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        if proc.returncode != 0:
            lines = [ln for ln in err.decode(errors="replace").splitlines() if ln.strip()]
            raise BadRequest(f"git failed: {lines[-1] if lines else 'no reason given'}",
                             code="clone_failed")
        return out

    async def fetch_git(self, source: GitSource) -> bytes:
        await self.check_host(source.url)
        base = self.settings.data_dir / "imports"
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="clone-", dir=base))
        try:
            repo = work / "repo"
            branch = ["--branch", source.ref] if source.ref else []
            try:
                await self._git(["clone", "--quiet", "--depth", "1", "--single-branch",
                                 "--no-checkout", "--no-tags", *branch, "--", source.url,
                                 str(repo)], work, watch=work)
            except BadRequest as exc:
                raise BadRequest(f"{display_url(source.url)} could not be cloned: "
                                 f"{exc.message.removeprefix('git failed: ')}",
                                 code="clone_failed") from None
            spec = f"HEAD:{source.path}"
            try:
                kind = (await self._git(["-C", str(repo), "cat-file", "-t", spec], work)).strip()
            except BadRequest:
                where = f" on {source.ref}" if source.ref else ""
                raise BadRequest(f"The repository has no {source.path}{where}.",
                                 code="not_in_repo") from None
            if kind != b"blob":
                raise BadRequest(f"{source.path} is a folder in the repository, not a notebook.",
                                 code="not_in_repo")
            size = int(await self._git(["-C", str(repo), "cat-file", "-s", spec], work))
            if size > self.settings.import_max_bytes:
                raise _too_large(f"{source.url} ({source.path})", self.settings.import_max_bytes)
            return await self._git(["-C", str(repo), "cat-file", "blob", spec], work)
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)

    # ---- the whole thing ---------------------------------------------------------------------

    async def fetch(self, source: HttpSource | GitSource) -> bytes:
        timeout = self.settings.import_timeout_seconds
        try:
            async with asyncio.timeout(timeout):
                if isinstance(source, GitSource):
                    return await self.fetch_git(source)
                return await self.fetch_http(source.url)
        except TimeoutError:
            raise BadRequest(f"{display_url(source.url)} took longer than {timeout:g} s to fetch.",
                             code="fetch_timeout") from None

    async def import_notebook(self, drive: Drive, url: str, repo_path: str | None,
                              ref: str | None, folder: str) -> Entry:
        """Fetch, validate and save a copy; returns the new file's entry."""
        source = source_for(url, repo_path, ref, self.settings.import_github_raw_url)
        clean_parts(folder)  # a bad folder is refused before anything is fetched
        data = await self.fetch(source)
        log.info("imported %s (%d bytes)", display_url(source.url), len(data))
        return await asyncio.to_thread(save_copy, drive, folder, source.name, data)


def save_copy(drive: Drive, folder: str, name: str, data: bytes) -> Entry:
    """Validate ``data`` as a notebook and write it as ``folder/name``, or ``name (1)``, ... when
    that is taken. A malformed notebook raises InvalidNotebook and nothing is written."""
    node = notebooks.parse(data, name)
    payload = notebooks.dumps(node)
    stem = name[: -len(NOTEBOOK)] if name.lower().endswith(NOTEBOOK) else name
    base = join(clean_parts(folder))
    for n in range(_MAX_COPIES):
        candidate = f"{stem} ({n}){NOTEBOOK}" if n else f"{stem}{NOTEBOOK}"
        try:
            return drive.write_bytes(f"{base}/{candidate}" if base else candidate, payload,
                                     overwrite=False)
        except Conflict as exc:
            if exc.code != "exists":
                raise
    raise Conflict(f"{folder or 'My Drive'} already holds {_MAX_COPIES} copies of {name}.",
                   code="exists")


def _size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, f)).st_size
    return total


def _http_reason(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "the server did not answer in time"
    if isinstance(exc, httpx.ConnectError):
        return "no connection could be made"
    return "the connection failed"
