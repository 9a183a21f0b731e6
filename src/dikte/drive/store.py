"""A person's drive: files and notebooks under one root folder, reached only through checked paths.

Every path from a person goes through :func:`dikte.drive.paths.clean_parts` and a real-path check,
and every write is a temp file + fsync + rename made relative to an open, re-checked folder (see
:mod:`dikte.drive.atomic`). Operations that act on an entry itself (stat, delete, rename) never
follow a symbolic link in the last component, so a link a runtime left in the drive can be seen,
moved and deleted without touching what it points to.
"""

from __future__ import annotations

import os
import shutil
import stat as st
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from nbformat import NotebookNode

from dikte.config import format_size
from dikte.drive import notebooks
from dikte.drive.atomic import AtomicFile, in_thread, is_temp_name, over_quota
from dikte.drive.entry import NOTEBOOK_SUFFIX, NOTEBOOKS_DIR, Entry
from dikte.drive.paths import bad_path, check_fd_within, clean_parts, join, real_within
from dikte.drive.tree import entry_at, not_found, usage_bytes
from dikte.errors import BadRequest, Conflict, NotFound, PayloadTooLarge

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _too_large(display: str, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"{display} is larger than the {format_size(limit)} limit for one upload. "
        "Split it into smaller files, or download it from inside a runtime instead.",
    )


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
            self._chown(root)
        self.root = Path(os.path.realpath(root))
        if create:
            self._make_dirs((NOTEBOOKS_DIR,), NOTEBOOKS_DIR)

    # ---- paths -------------------------------------------------------------------------------

    def resolve(self, rel: str) -> Path:
        """The real location of ``rel`` (links followed; it need not exist), refused if outside."""
        parts = clean_parts(rel)
        return real_within(self.root, self.root.joinpath(*parts), rel)

    def _locate(self, rel: str) -> tuple[tuple[str, ...], Path]:
        """The entry itself: its folder resolved and checked, its last name not followed."""
        parts = clean_parts(rel)
        if not parts:
            return parts, self.root
        parent = real_within(self.root, self.root.joinpath(*parts[:-1]), rel)
        return parts, parent / parts[-1]

    def _file_parts(self, rel: str) -> tuple[str, ...]:
        parts = clean_parts(rel)
        if not parts:
            raise bad_path(rel, "it names your drive itself, not a file in it")
        return parts

    def _chown(self, path: Path) -> None:
        if self.owner_uid is not None:
            os.chown(path, self.owner_uid, self.owner_uid, follow_symlinks=False)

    def _make_dirs(self, parts: tuple[str, ...], rel: str) -> Path:
        """Create the folders ``parts`` as needed (each checked and chowned); return the last."""
        here = self.root
        for i, part in enumerate(parts):
            there = real_within(self.root, here / part, rel)
            try:
                os.mkdir(there, 0o755)
            except FileExistsError:
                if not there.is_dir():
                    raise Conflict(
                        f"{join(parts[: i + 1])} is a file, so it cannot hold {join(parts)}.",
                        code="not_a_dir",
                    ) from None
            except NotADirectoryError:
                raise Conflict(
                    f"A file is in the way of {join(parts)}.", code="not_a_dir"
                ) from None
            else:
                self._chown(there)
            here = there
        return here

    def _open_dir(self, parts: tuple[str, ...], rel: str) -> int:
        fd = os.open(self._make_dirs(parts, rel), _DIR_FLAGS)
        check_fd_within(fd, self.root, rel)
        return fd

    # ---- reading -----------------------------------------------------------------------------

    def stat(self, rel: str) -> Entry:
        return entry_at(self.root, *self._locate(rel))

    def list(self, rel: str = "") -> list[Entry]:
        """The folder's entries, folders first, then by name."""
        parts = clean_parts(rel)
        where = self.resolve(rel)
        try:
            names = [e.name for e in os.scandir(where)]
        except FileNotFoundError:
            raise not_found(join(parts)) from None
        except NotADirectoryError:
            raise BadRequest(f"{join(parts)} is a file, not a folder.", code="not_a_dir") from None
        entries = []
        for name in names:
            if is_temp_name(name):
                continue
            try:
                entries.append(entry_at(self.root, (*parts, name), where / name))
            except NotFound:  # removed while we looked
                continue
        entries.sort(key=lambda e: (e.kind != "dir", e.name))
        return entries

    def open_file(self, rel: str) -> Path:
        """The real path of an existing regular file, for streaming it out."""
        display = join(clean_parts(rel))
        path = self.resolve(rel)
        try:
            info = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            raise not_found(display) from None
        if st.S_ISDIR(info.st_mode):
            raise BadRequest(f"{display or 'Your drive'} is a folder, not a file.", code="is_dir")
        if not st.S_ISREG(info.st_mode):
            raise BadRequest(f"{display} is not a regular file.", code="not_a_file")
        return path

    def open_reader(self, rel: str) -> BinaryIO:
        """An existing regular file, open for reading: its last name is not followed and the open
        file is checked to lie under root, so a path swapped after the check leads nowhere else."""
        path = self.open_file(rel)
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(path, flags)
        except OSError:  # swapped for a link or removed since the check
            raise not_found(join(clean_parts(rel))) from None
        check_fd_within(fd, self.root, rel)
        f = os.fdopen(fd, "rb")
        if not st.S_ISREG(os.fstat(f.fileno()).st_mode):
            f.close()
            raise BadRequest(f"{join(clean_parts(rel))} is not a regular file.")
        return f

    def read_bytes(self, rel: str) -> bytes:
        with self.open_reader(rel) as f:
            return f.read()

    def usage_bytes(self) -> int:
        """Total size of the regular files under root (links not followed)."""
        return usage_bytes(self.root)

    # ---- writing -----------------------------------------------------------------------------

    def _room(self, dir_fd: int, name: str, display: str, overwrite: bool) -> int | None:
        """Bytes the file may hold under the quota (None: no quota); refuse a taken name early."""
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
        return self.quota_bytes - (self.usage_bytes() - existing)

    def _write(self, parts: tuple[str, ...], rel: str, data: bytes, overwrite: bool) -> Entry:
        display = join(parts)
        dir_fd = self._open_dir(parts[:-1], rel)
        try:
            room = self._room(dir_fd, parts[-1], display, overwrite)
            if room is not None and len(data) > room:
                raise over_quota(display, self.usage_bytes(), self.quota_bytes or 0)
            f = AtomicFile(dir_fd, parts[-1], display, owner_uid=self.owner_uid)
            try:
                f.write(data)
            except BaseException:
                f.abort()
                raise
            f.commit(overwrite=overwrite)
        finally:
            os.close(dir_fd)
        return self.stat(rel)

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
    ) -> Entry:
        """Write an upload atomically; on any failure the temp file goes and the old file stays."""
        parts = self._file_parts(rel)
        display = join(parts)
        dir_fd = await in_thread(self._open_dir, parts[:-1], rel)
        try:
            room = await in_thread(self._room, dir_fd, parts[-1], display, overwrite)
            f = await in_thread(
                lambda: AtomicFile(dir_fd, parts[-1], display, owner_uid=self.owner_uid)
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
            await in_thread(lambda: f.commit(overwrite=overwrite))
        finally:
            os.close(dir_fd)
        return self.stat(rel)

    def mkdir(self, rel: str) -> Entry:
        parts = clean_parts(rel)
        self._make_dirs(parts, rel)
        return self.stat(rel)

    def rename(self, src: str, dst: str) -> Entry:
        """Move or rename ``src`` to ``dst`` (a link is moved itself); ``dst`` must not exist."""
        src_parts, src_path = self._locate(src)
        dst_parts = clean_parts(dst)
        if not src_parts:
            raise bad_path(src, "your drive itself cannot be moved")
        if not dst_parts:
            raise bad_path(dst, "it names your drive itself")
        if dst_parts[: len(src_parts)] == src_parts:
            raise BadRequest(
                f"{join(src_parts)} cannot be moved into itself.", code="move_into_itself"
            )
        if not os.path.lexists(src_path):
            raise not_found(join(src_parts))
        src_fd = os.open(src_path.parent, _DIR_FLAGS)
        try:
            check_fd_within(src_fd, self.root, src)
            dst_fd = self._open_dir(dst_parts[:-1], dst)
            try:
                try:
                    os.stat(dst_parts[-1], dir_fd=dst_fd, follow_symlinks=False)
                except FileNotFoundError:
                    pass
                else:
                    raise Conflict(f"{join(dst_parts)} already exists.", code="exists")
                try:
                    os.rename(src_path.name, dst_parts[-1], src_dir_fd=src_fd, dst_dir_fd=dst_fd)
                except FileNotFoundError:
                    raise not_found(join(src_parts)) from None
                except OSError as exc:  # e.g. EINVAL: into itself through a link
                    raise BadRequest(
                        f"{join(src_parts)} cannot be moved to {join(dst_parts)}: {exc.strerror}.",
                    ) from None
                os.fsync(dst_fd)
                os.fsync(src_fd)
            finally:
                os.close(dst_fd)
        finally:
            os.close(src_fd)
        return self.stat(dst)

    def delete(self, rel: str) -> None:
        """Delete a file, a link (not its target) or a folder with everything in it."""
        parts, path = self._locate(rel)
        if not parts:
            raise bad_path(rel, "your drive itself cannot be deleted")
        try:
            info = os.lstat(path)
            if st.S_ISDIR(info.st_mode):
                shutil.rmtree(path)  # fd-based on Linux: never follows links inside
            else:
                os.unlink(path)
        except (FileNotFoundError, NotADirectoryError):
            raise not_found(join(parts)) from None

    # ---- notebooks ---------------------------------------------------------------------------

    def validate_notebook_bytes(self, data: bytes, name: str) -> NotebookNode:
        return notebooks.parse(data, name)

    def read_notebook(self, rel: str) -> NotebookNode:
        return notebooks.parse(self.read_bytes(rel), join(clean_parts(rel)))

    def write_notebook(self, rel: str, nb: NotebookNode) -> Entry:
        parts = self._file_parts(rel)
        node = notebooks.check(nb, join(parts))
        return self._write(parts, rel, notebooks.dumps(node), overwrite=True)

    def new_notebook(self, rel: str) -> Entry:
        parts = self._file_parts(rel)
        return self._write(parts, rel, notebooks.dumps(notebooks.empty()), overwrite=False)
