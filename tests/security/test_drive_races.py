"""Drive and runtime-files operations cannot be raced out of the drive (issue 10, item 2).

A runtime writes into the person's drive (and its own /content) while the server works on them. The
old code checked a path with ``realpath`` and then used the path string again, so a runtime that
swapped a folder with a symbolic link between the two (``renameat2(RENAME_EXCHANGE)``, atomic)
had the server read ``server.key``, list the data directory, delete a root-owned file, create a
folder on the host, or move another person's file. Here an attacker process on the host (the
runtime's view of the drive is a bind mount of the same folder, so this is the same attack, only
faster) swaps a real folder ``d`` with a link ``x`` to a place outside, as fast as it can, while
the test sends each request at least 500 times. Not one request may reach outside.

The app runs in the test's process (tests/support/inprocess.py): the race is between the
attacker and the server's file operations, and thousands of requests through a real socket spent most
of their time in HTTP, on both ends, while the attacker kept a core busy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.inprocess import InProcess, app_settings, dikte_app

TRIES = 500
# thousands of requests each, beside an attacker that keeps a core busy: minutes on a busy machine
pytestmark = pytest.mark.timeout(900)
INSIDE = b"inside the drive"

# Swaps two names in a folder, atomically, until killed: the runtime's side of the race.
ATTACKER = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
renameat2 = libc.renameat2
renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                      ctypes.c_uint]
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
a, b = sys.argv[2].encode(), sys.argv[3].encode()
if renameat2(fd, a, fd, b, 2) != 0:  # RENAME_EXCHANGE
    raise OSError(ctypes.get_errno(), "renameat2")
print("swapping", flush=True)
while True:
    renameat2(fd, a, fd, b, 2)
"""


class Race:
    """``base/d`` (a real folder, held open as ``fd``) and ``base/x``, a link to ``target``;
    while running, a process swaps the two names."""

    def __init__(self, base: Path, target: Path) -> None:
        base.mkdir(parents=True)
        (base / "d").mkdir()
        os.symlink(target, base / "x")
        self.base = base
        self.target = target
        self.fd = os.open(base / "d", os.O_RDONLY | os.O_DIRECTORY)
        self.proc: subprocess.Popen[str] | None = None

    def put(self, name: str, data: bytes = INSIDE) -> None:
        """(Re)create a file in the real folder, wherever its name is at the moment."""
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=self.fd)
        os.write(fd, data)
        os.close(fd)

    def __enter__(self) -> Race:
        self.proc = subprocess.Popen([sys.executable, "-c", ATTACKER, str(self.base), "d", "x"],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "swapping"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        alive = self.proc.poll() is None
        self.proc.kill()
        self.proc.wait()
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        os.close(self.fd)
        assert alive, "the attacker stopped swapping"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[InProcess]:
    async with dikte_app(app_settings(tmp_path / "data", DIKTE_RUNTIME_MEMORY="2GiB")) as app:
        yield app


Person = tuple[httpx.AsyncClient, Path]


@pytest.fixture
async def person(server: InProcess) -> Person:
    """A person of their own (a drive that holds only what the test made), with their API
    client and their drive's folder."""
    person_id, client = await server.person("racer")
    await client.get("/api/drive/list")  # the drive exists
    return client, server.data_dir / "drives" / str(person_id)


@pytest.fixture
def root_owned(tmp_path: Path) -> Path:
    """A root-owned folder outside every drive, holding ``victim``."""
    path = tmp_path / "root-owned"
    path.mkdir()
    (path / "victim").write_bytes(b"root's file")
    return path


@pytest.fixture
async def other_drive(server: InProcess) -> Path:
    """Another person's drive, holding ``theirs.txt``."""
    other_id, other = await server.person("race-other")
    r = await other.put("/api/drive/files/theirs.txt", content=b"the other person's file")
    assert r.status_code < 300, r.text
    return server.data_dir / "drives" / str(other_id)


class Absent:
    """What a request that broke off (the old code answered some races by dropping the
    connection) looks like: no content, no status worth counting."""

    status_code = 0
    content = b""

    def json(self) -> Any:
        return {}


async def _send(client: httpx.AsyncClient, method: str, url: str,
                **kw: Any) -> httpx.Response | Absent:
    try:
        return await client.request(method, url, **kw)
    except httpx.TransportError:
        return Absent()


async def _tries(fire: Callable[[int], Awaitable[object]]) -> None:
    for i in range(TRIES):
        await fire(i)


def _escaped_names(folder: Path, prefix: str) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.startswith(prefix))


async def test_download(server: InProcess, person: Person) -> None:
    admin, drive = person
    race = Race(drive / "race-download", server.data_dir)
    race.put("server.key")
    secret = (server.data_dir / "server.key").read_bytes()
    seen: dict[int, int] = {}
    leaks = 0
    with race:
        async def fire(_: int) -> None:
            nonlocal leaks
            r = await _send(admin, "GET", "/api/drive/files/race-download/d/server.key")
            seen[r.status_code] = seen.get(r.status_code, 0) + 1
            if r.status_code == 200 and r.content != INSIDE:
                leaks += 1
                assert r.content == secret  # nothing else is named server.key
        await _tries(fire)
    assert leaks == 0, f"{leaks} of {TRIES} downloads served a file outside the drive ({seen})"
    assert seen.get(200), seen  # the race does not block the person


async def test_list(server: InProcess, person: Person) -> None:
    admin, drive = person
    race = Race(drive / "race-list", server.data_dir)
    race.put("mine.txt")
    outside = set(os.listdir(server.data_dir))
    leaks = 0
    with race:
        async def fire(_: int) -> None:
            nonlocal leaks
            r = await _send(admin, "GET", "/api/drive/list", params={"path": "race-list/d"})
            if r.status_code == 200:
                names = {e["name"] for e in r.json()["entries"]}
                leaks += bool(names & outside)
        await _tries(fire)
    assert leaks == 0, f"{leaks} of {TRIES} listings showed the data directory"


async def test_delete(person: Person, root_owned: Path) -> None:
    admin, drive = person
    race = Race(drive / "race-delete", root_owned)
    escapes = 0
    with race:
        async def fire(_: int) -> None:
            nonlocal escapes
            race.put("victim")
            await _send(admin, "DELETE", "/api/drive/files/race-delete/d/victim")
            if not (root_owned / "victim").exists():
                escapes += 1
                (root_owned / "victim").write_bytes(b"root's file")
        await _tries(fire)
    assert escapes == 0, f"{escapes} of {TRIES} deletes removed a root-owned file outside"


async def test_mkdir(person: Person, root_owned: Path) -> None:
    admin, drive = person
    race = Race(drive / "race-mkdir", root_owned)
    with race:
        await _tries(lambda i: _send(admin, "POST", "/api/drive/dirs", json={"path": f"race-mkdir/d/m{i}"}))
        await _tries(lambda i: _send(admin, "POST", "/api/drive/dirs",
                                         json={"path": f"race-mkdir/d/n{i}/deeper"}))
    made = _escaped_names(root_owned, "m") + _escaped_names(root_owned, "n")
    assert made == [], f"{len(made)} folders were created outside the drive"


async def test_rename_out_of_and_into(person: Person, other_drive: Path) -> None:
    admin, drive = person
    race = Race(drive / "race-rename", other_drive)
    race.put("theirs.txt", b"mine")
    (drive / "race-rename" / "src").mkdir()
    stolen = 0
    with race:
        async def take(i: int) -> None:
            nonlocal stolen
            r = await _send(admin, "POST", "/api/drive/rename", json={
                "src": "race-rename/d/theirs.txt", "dst": f"race-rename/got/{i}.txt"})
            if r.status_code == 200:
                moved = drive / "race-rename" / "got" / f"{i}.txt"
                if moved.read_bytes() != b"mine":
                    stolen += 1
                    moved.rename(other_drive / "theirs.txt")
                race.put("theirs.txt", b"mine")

        async def plant(i: int) -> None:
            (drive / "race-rename" / "src" / f"p{i}").write_bytes(b"planted")
            await _send(admin, "POST", "/api/drive/rename", json={
                "src": f"race-rename/src/p{i}", "dst": f"race-rename/d/p{i}"})
        await _tries(take)
        await _tries(plant)
    assert stolen == 0, f"{stolen} of {TRIES} renames moved another person's file"
    planted = _escaped_names(other_drive, "p")
    assert planted == [], f"{len(planted)} files were moved into another person's drive"
    assert (other_drive / "theirs.txt").read_bytes() == b"the other person's file"


def _landed(folder: Path, name: str) -> int:
    """1 if ``name`` appeared in ``folder`` (then removed, for the next try), else 0."""
    path = folder / name
    if not os.path.lexists(path):
        return 0
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
    return 1


async def test_upload(person: Person, other_drive: Path) -> None:
    """The same names each time, so that the drive (and its usage walk) stays small."""
    admin, drive = person
    race = Race(drive / "race-upload", other_drive)
    landed = 0
    with race:
        async def put(path: str, landing: str) -> None:
            nonlocal landed
            await _send(admin, "PUT", f"/api/drive/files/race-upload/d/{path}", content=b"u")
            landed += _landed(other_drive, landing)
        await _tries(lambda _: put("u", "u"))
        await _tries(lambda _: put("v/w", "v"))
    assert landed == 0, f"{landed} uploads landed in another person's drive"


async def test_chunked_upload_completion(person: Person, other_drive: Path) -> None:
    admin, drive = person
    race = Race(drive / "race-chunked", other_drive)
    landed = 0
    with race:
        async def fire(_: int) -> None:
            nonlocal landed
            r = await _send(admin, "POST", "/api/uploads", json={
                "target": "drive", "path": "race-chunked/d/c", "size": 1})
            if not isinstance(r, httpx.Response) or r.status_code != 201:
                return
            up = r.json()["upload_id"]
            await _send(admin, "PUT", f"/api/uploads/{up}", params={"offset": 0}, content=b"c")
            r = await _send(admin, "POST", f"/api/uploads/{up}/complete")
            if r.status_code != 200:
                await _send(admin, "DELETE", f"/api/uploads/{up}")
            landed += _landed(other_drive, "c")
        await _tries(fire)
    assert landed == 0, f"{landed} chunked uploads landed in another person's drive"


async def _runtime_content(server: InProcess, admin: httpx.AsyncClient) -> tuple[str, Path]:
    path = "Notebooks/race-files.ipynb"
    r = await admin.post("/api/notebooks", json={"path": path})
    assert r.status_code < 300, r.text
    r = await admin.post("/api/notebooks/connect", json={"path": path})
    assert r.status_code == 200, r.text
    return path, server.data_dir / "runtimes" / r.json()["runtime_id"] / "content"


async def test_runtime_files(server: InProcess, person: Person,
                       root_owned: Path) -> None:
    """Each of list, download, upload, mkdir and delete in a runtime's /content."""
    admin, _ = person
    notebook, content = await _runtime_content(server, admin)
    race = Race(content / "race", server.data_dir)
    race.put("server.key")
    race.put("mine.txt")
    outside = set(os.listdir(server.data_dir)) - {"server.key", "mine.txt"}
    leaks: list[str] = []

    def call(method: str, url: str, **kw: Any) -> Awaitable[httpx.Response | Absent]:
        return _send(admin, method, f"/api/runtime/files{url}", **kw)

    async def download(_: int) -> None:
        r = await call("GET", "/download", params={"path": notebook, "file": "race/d/server.key"})
        if r.status_code == 200 and r.content != INSIDE:
            leaks.append("download")

    async def listing(_: int) -> None:
        r = await call("GET", "", params={"path": notebook, "dir": "race/d"})
        if isinstance(r, httpx.Response) and r.status_code == 200:
            if {e["name"] for e in r.json()["entries"]} & outside:
                leaks.append("list")

    with race:
        await _tries(download)
        await _tries(listing)

    race = Race(content / "race-w", root_owned)

    async def delete(_: int) -> None:
        race.put("victim")
        await call("POST", "/delete", json={"path": notebook, "file": "race-w/d/victim"})
        if not (root_owned / "victim").exists():
            leaks.append("delete")
            (root_owned / "victim").write_bytes(b"root's file")

    with race:
        await _tries(delete)
        await _tries(lambda i: call("POST", "/mkdir", json={"path": notebook, "dir": f"race-w/d/m{i}"}))
        await _tries(lambda i: call("PUT", "/upload", params={"path": notebook,
                                                        "file": f"race-w/d/u{i}"}, content=b"u"))
    leaks += [f"made {n}" for n in _escaped_names(root_owned, "m") + _escaped_names(root_owned, "u")]
    assert leaks == [], f"{len(leaks)} runtime-files requests reached outside: {leaks[:10]}"


async def test_the_attack_is_real(person: Person) -> None:
    """The swap happens: a request sees the folder and the link in turn."""
    admin, drive = person
    race = Race(drive / "race-real", drive / "Notebooks")
    race.put("only-inside.txt")
    kinds: set[str] = set()
    deadline = time.monotonic() + 60
    with race:
        while len(kinds) < 2 and time.monotonic() < deadline:
            r = await _send(admin, "GET", "/api/drive/list", params={"path": "race-real/d"})
            names = {e["name"] for e in r.json()["entries"]} if r.status_code == 200 else set()
            kinds.add("folder" if "only-inside.txt" in names else "link or refused")
    assert kinds == {"folder", "link or refused"}
