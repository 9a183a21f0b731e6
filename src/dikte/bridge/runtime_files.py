"""The files of a runtime's /content, as the notebook page's Files panel shows them.

Paths are relative to /content. Everything under ``drive/MyDrive`` is the person's drive (the same
:class:`Drive` the drive API uses); everything else is the runtime's own /content, which its
backend gives as a :class:`Drive` (``RuntimeBackend.content``). That gives /content the drive's
path safety: no ``..``, no absolute paths, and no symbolic link a cell made
(``os.symlink('/etc', '/content/x')``) leads anywhere outside.
Files written here belong to the runtime's user.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Iterator
from typing import BinaryIO

from dikte.control.manager import SessionManager
from dikte.control.runtime_link import RuntimeLink, link_of
from dikte.drive import Drive
from dikte.drive.entry import Entry
from dikte.drive.paths import clean_parts, join
from dikte.errors import BadRequest, Conflict, DikteError, NotFound
from dikte.notebooks.notebook import OpenNotebook

MY_DRIVE = ("drive", "MyDrive")
LEGACY_DRIVE = ("drive", "My Drive")  # the same drive, at the name Colab used first


def not_connected(what: str = "see its files") -> Conflict:
    return Conflict(f"Connect a runtime to {what}.", code="not_connected")


def connected_runtime(sessions: SessionManager, person_id: int,
                      notebook: str) -> tuple[OpenNotebook, RuntimeLink]:
    """The person's open notebook and its connected runtime, or 409 ``not_connected``."""
    nb = sessions.loaded(person_id, notebook)
    link = link_of(nb) if nb is not None else None
    if nb is None or link is None or link.handle is None or link.status != "connected":
        raise not_connected()
    return nb, link


@contextlib.contextmanager
def _about_content() -> Iterator[None]:
    """The drive's messages name "your drive"; here the folder is the runtime's /content."""
    try:
        yield
    except DikteError as exc:
        exc.message = exc.message.replace("your drive", "/content").replace(
            "Your drive", "/content")
        raise


class RuntimeFiles:
    """One runtime's /content with the person's drive under drive/MyDrive."""

    def __init__(self, sessions: SessionManager, person_id: int, content: Drive,
                 drive: Drive) -> None:
        self.sessions = sessions
        self.person_id = person_id
        self.content = content
        self.drive = drive

    @classmethod
    def of(cls, sessions: SessionManager, person_id: int, notebook: str) -> RuntimeFiles:
        nb, link = connected_runtime(sessions, person_id, notebook)
        assert link.handle is not None
        try:
            content = sessions.backend.content(link.handle)
        except NotFound:  # stopped a moment ago
            raise not_connected() from None
        return cls(sessions, person_id, content, nb.drive)

    def _locate(self, rel: str) -> tuple[Drive, str, str]:
        """(the Drive holding ``rel``, the path inside it, the /content prefix of that Drive)."""
        parts = clean_parts(rel)
        if parts[:2] in (MY_DRIVE, LEGACY_DRIVE):
            return self.drive, join(parts[2:]), join(parts[:2])
        return self.content, join(parts), ""

    @staticmethod
    def _shown(entry: Entry, prefix: str) -> Entry:
        if not prefix:
            return entry
        path = f"{prefix}/{entry.path}" if entry.path else prefix
        return dataclasses.replace(entry, path=path, name=path.rsplit("/", 1)[-1])

    def check_file(self, rel: str) -> None:
        """Refuse now a destination that could never be written."""
        drive, inner, _ = self._locate(rel)
        if not clean_parts(inner):
            raise BadRequest(f"/content/{rel.strip('/')} is a folder; name a file in it.",
                             code="bad_path")
        with _about_content() if drive is self.content else contextlib.nullcontext():
            drive.check(inner)

    def list(self, rel: str) -> list[Entry]:
        drive, inner, prefix = self._locate(rel)
        with _about_content() if drive is self.content else contextlib.nullcontext():
            return [self._shown(e, prefix) for e in drive.list(inner)]

    def open_reader(self, rel: str) -> BinaryIO:
        drive, inner, _ = self._locate(rel)
        with _about_content() if drive is self.content else contextlib.nullcontext():
            return drive.open_reader(inner)

    def mkdir(self, rel: str) -> Entry:
        drive, inner, prefix = self._locate(rel)
        with _about_content() if drive is self.content else contextlib.nullcontext():
            return self._shown(drive.mkdir(inner), prefix)

    async def write_stream(self, rel: str, chunks: AsyncIterator[bytes], *, max_bytes: int,
                           overwrite: bool = True, reserved: int = 0) -> Entry:
        """Write a file; ``reserved`` (unfinished uploads) counts against the drive's quota."""
        drive, inner, prefix = self._locate(rel)
        if drive is self.drive and self.sessions.loaded(self.person_id, inner) is not None:
            raise notebook_open()
        with _about_content() if drive is self.content else contextlib.nullcontext():
            entry = await drive.write_stream(inner, chunks, max_bytes=max_bytes,
                                             overwrite=overwrite, reserved=reserved)
        return self._shown(entry, prefix)

    async def delete(self, rel: str) -> None:
        """Delete a file or folder; open notebooks deleted from the drive are closed first."""
        parts = clean_parts(rel)
        if parts and parts in (MY_DRIVE[: len(parts)], LEGACY_DRIVE[: len(parts)]):
            raise BadRequest(f"/content/{join(parts)} is where your drive is mounted; it cannot "
                             "be deleted. Delete files inside drive/MyDrive instead.",
                             code="mount_point")
        drive, inner, _ = self._locate(rel)
        if drive is self.content:
            with _about_content():
                await asyncio.to_thread(self.content.delete, inner)
            return
        await asyncio.to_thread(self.drive.stat, inner)
        await self.sessions.deleted(self.person_id, inner)
        await asyncio.to_thread(self.drive.delete, inner)


def notebook_open() -> BadRequest:
    return BadRequest("This notebook is open; close its runtime and viewers before replacing "
                      "it, or upload under another name.", code="notebook_open")
