"""A person's drive: files and notebooks under one root folder, reached only through open folders.

Every path from a person goes through :func:`dikte.drive.paths.clean_parts` and is then found by a
:class:`~dikte.drive.walk.Walk`: each folder opened relative to the one above without following
links, and held open. Every operation then acts on the very object the walk found: a download reads
the descriptor it opened, a listing scans the folder descriptor, a delete, mkdir or rename names
one entry of a held folder (``*at`` calls), a new folder is chowned through its descriptor, and a
write is a temp file + fsync + rename inside the held folder (see :mod:`dikte.drive.atomic`). A
runtime that swaps a folder for a symbolic link at any moment can make a request fail, never reach
outside. Operations on an entry itself (stat, delete, rename) never follow a link in the last name,
so a link a runtime left in the drive can be seen, moved and deleted without touching its target.
"""

from __future__ import annotations

import errno
import os
import stat as st
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, BinaryIO

from nbformat import NotebookNode

from dikte.config import format_size
from dikte.drive import notebooks, serialise
from dikte.drive.atomic import AtomicFile, in_thread, is_temp_name, over_quota, rename_noreplace
from dikte.drive.entry import NOTEBOOK_SUFFIX, NOTEBOOKS_DIR, Entry
from dikte.drive.paths import bad_path, clean_parts, is_text, join
from dikte.drive.tree import entry_at, entry_of, not_found, remove_entry, usage_bytes
from dikte.drive.walk import DIR_FLAGS, Missing, NotAFolder, Walk
from dikte.errors import BadRequest, Conflict, InvalidNotebook, NotFound, PayloadTooLarge

_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY


def _too_large(display: str, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"{display} is larger than the {format_size(limit)} limit for one upload. "
        "Split it into smaller files, or download it from inside a runtime instead.",
    )


def _in_the_way(where: tuple[str, ...], display: str) -> Conflict:
    return Conflict(f"{join(where)} is a file, so it cannot hold {display}.", code="not_a_dir")


def _not_regular(display: str) -> BadRequest:
    return BadRequest(f"{display} is not a regular file.", code="not_a_file")


class Drive:
    """One person's persistent storage, rooted at ``root``."""

    def __init__(
        self,
        root: Path,
        *,
        owner_uid: int | None = None,
        quota_bytes: int | None = None,
        create: bool = True,
    ) -> None:
        """``create=False`` is for a folder made and owned elsewhere, such as a runtime's
        /content: it must exist (else :class:`NotFound`), and no Notebooks/ folder is made."""
        self.owner_uid = owner_uid
        self.quota_bytes = quota_bytes
        root = Path(root)
        if not create and not root.is_dir():
            raise NotFound(f"{root.name} does not exist.")
        if not root.exists():
            root.mkdir(mode=0o700, parents=True)
            fd = os.open(root, DIR_FLAGS)
            try:
                self._fchown(fd)
            finally:
                os.close(fd)
        self.root = Path(os.path.realpath(root))
        if create:
            self.mkdir(NOTEBOOKS_DIR)

    # ---- finding -----------------------------------------------------------------------------

    def _fchown(self, fd: int) -> None:
        if self.owner_uid is not None:
            os.fchown(fd, self.owner_uid, self.owner_uid)

    def _make_folder(self, dir_fd: int, name: str) -> int | None:
        """Create folder ``name`` in ``dir_fd``, open it and give it to the owner (by its
        descriptor, so a swap after the mkdir changes nothing); None if the name was taken."""
        try:
            os.mkdir(name, 0o755, dir_fd=dir_fd)
        except FileExistsError:
            return None
        try:
            fd = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
        except OSError:  # swapped or removed at once: the walk looks again
            return None
        try:
            self._fchown(fd)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _enter(self, walk: Walk, names: tuple[str, ...], display: str, *,
               make: bool = False) -> None:
        """Walk into the folders ``names``: missing ones are made (``make``) or not found."""
        try:
            walk.enter(names, self._make_folder if make else None)
        except Missing:
            raise not_found(display) from None
        except NotAFolder as exc:
            if make:
                raise _in_the_way(exc.where, display) from None
            raise not_found(display) from None

    def _parent(self, parts: tuple[str, ...], rel: str, *, make: bool = False) -> Walk:
        """A walk holding the folder of the entry ``parts`` (made if missing, with ``make``)."""
        walk = Walk(self.root, rel)
        try:
            self._enter(walk, parts[:-1], join(parts), make=make)
        except BaseException:
            walk.close()
            raise
        return walk

    def _file_parts(self, rel: str) -> tuple[str, ...]:
        parts = clean_parts(rel)
        if not parts:
            raise bad_path(rel, "it names your drive itself, not a file in it")
        return parts

    def check(self, rel: str) -> None:
        """Refuse now a file path that could never be written (outside, or under a file)."""
        parts = self._file_parts(rel)
        with Walk(self.root, rel) as walk:
            try:
                walk.enter(parts[:-1])
            except Missing:
                return  # made when the file is written
            except NotAFolder as exc:
                raise _in_the_way(exc.where, join(parts)) from None

    # ---- reading -----------------------------------------------------------------------------

    def stat(self, rel: str) -> Entry:
        parts = clean_parts(rel)
        if not parts:
            with Walk(self.root, rel) as walk:
                return entry_of(parts, os.fstat(walk.fd))
        with self._parent(parts, rel) as walk:
            return entry_at(walk, parts[-1], parts)

    def list(self, rel: str = "") -> list[Entry]:
        """The folder's entries, folders first, then by name."""
        parts = clean_parts(rel)
        with Walk(self.root, rel) as walk:
            try:
                walk.enter(parts)
            except Missing:
                raise not_found(join(parts)) from None
            except NotAFolder:
                raise BadRequest(f"{join(parts)} is a file, not a folder.",
                                 code="not_a_dir") from None
            with os.scandir(walk.fd) as it:
                # a name that is not UTF-8 (a runtime made it) cannot be shown or named here
                names = [e.name for e in it if not is_temp_name(e.name) and is_text(e.name)]
            entries = []
            for name in names:
                try:
                    entries.append(entry_at(walk, name, (*parts, name)))
                except NotFound:  # removed while we looked
                    continue
        entries.sort(key=lambda e: (e.kind != "dir", e.name))
        return entries

    def open_reader(self, rel: str) -> BinaryIO:
        """An existing regular file, open for reading: the very file found by the walk."""
        parts = clean_parts(rel)
        display = join(parts)
        if not parts:
            raise BadRequest("Your drive is a folder, not a file.", code="is_dir")
        with self._parent(parts, rel) as walk:
            try:
                fd, _ = walk.open_entry(parts[-1], _READ_FLAGS)
            except (Missing, NotAFolder):
                raise not_found(display) from None
            except OSError as exc:
                if exc.errno in (errno.ENXIO, errno.EOPNOTSUPP, errno.ENODEV):  # a socket, ...
                    raise _not_regular(display) from None
                raise
        info = os.fstat(fd)
        if not st.S_ISREG(info.st_mode):
            os.close(fd)
            if st.S_ISDIR(info.st_mode):
                raise BadRequest(f"{display} is a folder, not a file.", code="is_dir")
            raise _not_regular(display)
        return os.fdopen(fd, "rb")

    def read_bytes(self, rel: str) -> bytes:
        with self.open_reader(rel) as f:
            return f.read()

    def usage_bytes(self) -> int:
        """Total size of the regular files under root (links not followed)."""
        return usage_bytes(self.root)

    # ---- writing -----------------------------------------------------------------------------

    def _room(self, dir_fd: int, name: str, display: str, overwrite: bool,
              reserved: int = 0) -> int | None:
        """Bytes the file may hold under the quota (None: no quota); refuse a taken name early.
        ``reserved`` bytes (unfinished uploads) count as used."""
        existing = 0
        try:
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            pass
        else:
            if st.S_ISDIR(info.st_mode):
                raise Conflict(f"{display} is a folder.", code="is_dir")
            if not overwrite:
                raise Conflict(f"{display} already exists.", code="exists")
            existing = info.st_size if st.S_ISREG(info.st_mode) else 0
        if self.quota_bytes is None:
            return None
        return self.quota_bytes - (self.usage_bytes() + reserved - existing)

    def _write(self, parts: tuple[str, ...], rel: str, data: bytes, overwrite: bool) -> Entry:
        display = join(parts)
        with self._parent(parts, rel, make=True) as walk:
            room = self._room(walk.fd, parts[-1], display, overwrite)
            if room is not None and len(data) > room:
                raise over_quota(display, self.usage_bytes(), self.quota_bytes or 0)
            f = AtomicFile(walk.fd, parts[-1], display, owner_uid=self.owner_uid)
            try:
                f.write(data)
            except BaseException:
                f.abort()
                raise
            return entry_of(parts, f.commit(overwrite=overwrite))

    def write_bytes(self, rel: str, data: bytes, *, overwrite: bool = True) -> Entry:
        """Replace (or create) a file atomically; a notebook's bytes are validated first."""
        parts = self._file_parts(rel)
        if parts[-1].endswith(NOTEBOOK_SUFFIX):
            notebooks.parse(data, join(parts))
        return self._write(parts, rel, data, overwrite)

    async def write_stream(
        self,
        rel: str,
        chunks: AsyncIterator[bytes],
        *,
        max_bytes: int,
        overwrite: bool = True,
        reserved: int = 0,
    ) -> Entry:
        """Write an upload atomically; on any failure the temp file goes and the old file stays.
        ``reserved``: bytes the person's unfinished uploads hold, counted against the quota."""
        parts = self._file_parts(rel)
        display = join(parts)
        walk = await in_thread(lambda: self._parent(parts, rel, make=True))
        try:
            room = await in_thread(self._room, walk.fd, parts[-1], display, overwrite, reserved)
            f = await in_thread(
                lambda: AtomicFile(walk.fd, parts[-1], display, owner_uid=self.owner_uid)
            )
            try:
                async for chunk in chunks:
                    if f.size + len(chunk) > max_bytes:
                        raise _too_large(display, max_bytes)
                    if room is not None and f.size + len(chunk) > room:
                        used = (self.quota_bytes or 0) - room  # not counting this upload
                        raise over_quota(display, used, self.quota_bytes or 0)
                    await in_thread(f.write, chunk)
                if parts[-1].endswith(NOTEBOOK_SUFFIX):
                    notebooks.parse(await in_thread(f.read_back), display)
            except BaseException:
                f.abort()
                raise
            info = await in_thread(lambda: f.commit(overwrite=overwrite))
        finally:
            walk.close()
        return entry_of(parts, info)

    def mkdir(self, rel: str) -> Entry:
        """Create the folder ``rel`` and any missing folders above it."""
        parts = clean_parts(rel)
        with Walk(self.root, rel) as walk:
            self._enter(walk, parts, join(parts), make=True)
            return entry_of(parts, os.fstat(walk.fd))

    def rename(self, src: str, dst: str) -> Entry:
        """Move or rename ``src`` to ``dst`` (a link is moved itself); ``dst`` must not exist."""
        src_parts = clean_parts(src)
        dst_parts = clean_parts(dst)
        if not src_parts:
            raise bad_path(src, "your drive itself cannot be moved")
        if not dst_parts:
            raise bad_path(dst, "it names your drive itself")
        shown, target = join(src_parts), join(dst_parts)
        if dst_parts[: len(src_parts)] == src_parts:
            raise BadRequest(f"{shown} cannot be moved into itself.", code="move_into_itself")
        with self._parent(src_parts, src) as here:
            try:
                os.stat(src_parts[-1], dir_fd=here.fd, follow_symlinks=False)
            except (FileNotFoundError, NotADirectoryError):
                raise not_found(shown) from None
            with self._parent(dst_parts, dst, make=True) as there:
                try:
                    rename_noreplace(here.fd, src_parts[-1], there.fd, dst_parts[-1])
                except FileExistsError:
                    raise Conflict(f"{target} already exists.", code="exists") from None
                except FileNotFoundError:
                    raise not_found(shown) from None
                except OSError as exc:  # e.g. EINVAL: into itself through a link
                    raise BadRequest(
                        f"{shown} cannot be moved to {target}: {exc.strerror}.") from None
                os.fsync(there.fd)
                os.fsync(here.fd)
                return entry_at(there, dst_parts[-1], dst_parts)

    def delete(self, rel: str) -> None:
        """Delete a file, a link (not its target) or a folder with everything in it."""
        parts = clean_parts(rel)
        if not parts:
            raise bad_path(rel, "your drive itself cannot be deleted")
        with self._parent(parts, rel) as walk:
            remove_entry(walk.fd, parts[-1], join(parts))

    # ---- notebooks ---------------------------------------------------------------------------

    def validate_notebook_bytes(self, data: bytes, name: str) -> NotebookNode:
        return notebooks.parse(data, name)

    def read_notebook(self, rel: str) -> NotebookNode:
        return notebooks.parse(self.read_bytes(rel), join(clean_parts(rel)))

    def write_notebook(self, rel: str, nb: dict[str, Any]) -> Entry:
        """Save the server's own notebook (built from validated pieces; a frozen snapshot, see
        dikte.notebooks.snapshot): its shape is checked, not every output against the schema,
        and it is written without copies (see dikte.drive.serialise)."""
        parts = self._file_parts(rel)
        name = join(parts)
        serialise.check_shape(nb, name)
        try:
            data = serialise.dumps(nb)
        except UnicodeEncodeError:
            where = notebooks.unpaired_surrogate(nb) or "the document"
            raise InvalidNotebook(
                f"{name} is not a valid notebook: {where}: it holds an unpaired surrogate "
                "(such as \\udc80), which is not text",
                log_message=f"refusing to write {name!r}: unpaired surrogate at {where}") from None
        except (RecursionError, TypeError) as exc:
            raise InvalidNotebook(f"{name} is not a valid notebook: it is not JSON data.",
                                  log_message=f"refusing to write {name!r}: {exc!r}") from None
        return self._write(parts, rel, data, overwrite=True)

    def new_notebook(self, rel: str) -> Entry:
        parts = self._file_parts(rel)
        return self._write(parts, rel, notebooks.dumps(notebooks.empty()), overwrite=False)
