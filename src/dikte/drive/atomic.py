"""Atomic file replacement inside one open folder: temp file + fsync + rename + fsync of the folder.

Everything happens relative to an open folder descriptor, so a runtime that swaps a folder for a
symbolic link after the path was checked cannot redirect the write. The temp file is created with
``O_EXCL | O_NOFOLLOW`` and the rename replaces the final name itself: a symbolic link standing
there is replaced, never written through.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import functools
import os
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from dikte.config import format_size
from dikte.errors import Conflict, InsufficientStorage

TEMP_PREFIX = ".~dikte-"
TEMP_SUFFIX = ".tmp"
T = TypeVar("T")
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
_NO_HARDLINKS = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV)
_RENAME_NOREPLACE = 1
_NO_RENAMEAT2 = (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP)


def is_temp_name(name: str) -> bool:
    return name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)


def is_disk_full(exc: OSError) -> bool:
    return exc.errno in _DISK_FULL


def disk_full(display: str) -> InsufficientStorage:
    return InsufficientStorage(
        f"There is no space left on the disk that holds your drive, so {display} was not saved. "
        "Delete some files, or ask your administrator for more space.",
        code="disk_full",
    )


def over_quota(display: str, used: int, limit: int) -> InsufficientStorage:
    return InsufficientStorage(
        f"Your drive is full: {format_size(used)} of {format_size(limit)} used, "
        f"so {display} was not saved. Delete some files to make room.",
        code="drive_full",
    )


async def in_thread(fn: Callable[..., T], *args: object) -> T:
    """Run blocking file work in a thread; if cancelled, let it finish before the file is closed."""
    fut = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        return await asyncio.shield(fut)
    except asyncio.CancelledError:
        await asyncio.wait([fut])
        if not fut.cancelled():
            fut.exception()
        raise


@functools.cache
def _renameat2() -> Any:
    """libc's ``renameat2`` (glibc 2.28+), or None."""
    fn = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if fn is not None:
        fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        fn.restype = ctypes.c_int
    return fn


def rename_noreplace(src_dir_fd: int, src: str, dst_dir_fd: int, dst: str) -> None:
    """Rename ``src`` (in ``src_dir_fd``) to ``dst`` (in ``dst_dir_fd``), failing with
    :class:`FileExistsError` if ``dst`` exists: ``renameat2(RENAME_NOREPLACE)``, atomic, where the
    kernel and file system have it; a check, then ``renameat``, where not."""
    fn = _renameat2()
    if fn is not None:
        if fn(src_dir_fd, os.fsencode(src), dst_dir_fd, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
            return
        err = ctypes.get_errno()
        if err not in _NO_RENAMEAT2:
            raise OSError(err, os.strerror(err), src, None, dst)
    try:
        os.stat(dst, dir_fd=dst_dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        os.rename(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)
        return
    raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst)


class AtomicFile:
    """A temp file beside ``name`` in the folder ``dir_fd`` that becomes ``name`` on :meth:`commit`.

    The caller owns ``dir_fd`` and closes it after :meth:`commit` or :meth:`abort`.
    """

    def __init__(self, dir_fd: int, name: str, display: str, *, owner_uid: int | None) -> None:
        self.dir_fd = dir_fd
        self.name = name
        self.display = display
        self.size = 0
        self.temp = f"{TEMP_PREFIX}{secrets.token_hex(6)}{TEMP_SUFFIX}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            self.fd: int | None = os.open(self.temp, flags, 0o644, dir_fd=dir_fd)
        except OSError as exc:
            if is_disk_full(exc):
                raise disk_full(display) from None
            raise
        # The temp file stays the server's until it is put in place: a file of this name that
        # the server owns is a save's, never a runtime's, and one left by a save cut off (a
        # server killed) is removed at the next start and never counted in the quota.
        self.owner_uid = owner_uid

    def write(self, data: bytes) -> None:
        assert self.fd is not None
        view = memoryview(data)
        try:
            while view:
                n = os.write(self.fd, view)
                view = view[n:]
                self.size += n
        except OSError as exc:
            if is_disk_full(exc):
                self.abort()
                raise disk_full(self.display) from None
            raise

    def read_back(self) -> bytes:
        """The bytes written so far (used to validate a notebook before it replaces anything)."""
        fd = os.open(self.temp, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.dir_fd)
        with os.fdopen(fd, "rb") as f:
            return f.read()

    def commit(self, *, overwrite: bool) -> os.stat_result:
        """Make the temp file durable and put it in place; on any failure remove it. Returns what
        the file is (read from its descriptor, not from its name, which a runtime may reuse)."""
        assert self.fd is not None
        try:
            os.fsync(self.fd)
            if overwrite:
                os.rename(self.temp, self.name, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
            else:
                self._place_without_replacing()
            # given to the drive's owner only once in place: a temp file is the server's for
            # its whole life, so one left by a server killed mid-save is always recognised
            # (and a file put in place but not yet given is given at the next start)
            if self.owner_uid is not None:
                os.fchown(self.fd, self.owner_uid, self.owner_uid)
            info = os.fstat(self.fd)
            os.close(self.fd)
            self.fd = None
            os.fsync(self.dir_fd)
            return info
        except FileExistsError:
            self.abort()
            raise Conflict(f"{self.display} already exists.", code="exists") from None
        except IsADirectoryError:
            self.abort()
            raise Conflict(f"{self.display} is a folder.", code="is_dir") from None
        except OSError as exc:
            self.abort()
            if is_disk_full(exc):
                raise disk_full(self.display) from None
            raise
        except BaseException:
            self.abort()
            raise

    def _place_without_replacing(self) -> None:
        # A hard link fails with EEXIST when the name is taken, with no window for a race.
        try:
            os.link(self.temp, self.name, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd,
                    follow_symlinks=False)
        except OSError as exc:
            if exc.errno not in _NO_HARDLINKS:
                raise
            rename_noreplace(self.dir_fd, self.temp, self.dir_fd, self.name)
            return
        os.unlink(self.temp, dir_fd=self.dir_fd)

    def abort(self) -> None:
        """Close and remove the temp file; safe to call more than once."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        try:
            os.unlink(self.temp, dir_fd=self.dir_fd)
        except FileNotFoundError:
            pass
