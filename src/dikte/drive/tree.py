"""Looking at and removing what is in a drive, always relative to open folders.

Every function here takes a folder descriptor that a :class:`~dikte.drive.walk.Walk` opened and a
name in it, and works with ``*at`` calls and ``O_NOFOLLOW``: a symbolic link is described, counted
or removed as itself, and a folder is entered only by opening it relative to its parent, so a
folder swapped for a link mid-way is never walked into.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat as st
from pathlib import Path

from dikte.drive.entry import Entry, kind_of
from dikte.drive.paths import MAX_DEPTH, join
from dikte.drive.walk import DIR_FLAGS, Missing, NotAFolder, Walk
from dikte.errors import Conflict, DikteError, NotFound

log = logging.getLogger(__name__)
_RESCANS = 8
"""Times a folder that keeps filling up while it is deleted is emptied again."""


def not_found(display: str) -> NotFound:
    return NotFound(f"{display} was not found in your drive.")


def entry_of(parts: tuple[str, ...], info: os.stat_result) -> Entry:
    name = parts[-1] if parts else ""
    is_dir = st.S_ISDIR(info.st_mode)
    return Entry(name=name, path=join(parts), kind=kind_of(name, is_dir),
                 size=0 if is_dir else info.st_size, modified=info.st_mtime)


def entry_at(walk: Walk, name: str, parts: tuple[str, ...]) -> Entry:
    """Describe ``name`` in the walk's folder, shown as ``parts``. A link that stays inside the
    drive shows what it points to; any other shows as itself."""
    try:
        info = os.stat(name, dir_fd=walk.fd, follow_symlinks=False)
    except (FileNotFoundError, NotADirectoryError):
        raise not_found(join(parts)) from None
    if st.S_ISLNK(info.st_mode):
        info = _target_info(walk, name) or info
    return entry_of(parts, info)


def _target_info(walk: Walk, name: str) -> os.stat_result | None:
    sub = Walk(walk.root, join((*walk.where, name)))
    try:
        sub.enter(walk.where)
        fd, _ = sub.open_entry(name, os.O_PATH)
        try:
            return os.fstat(fd)
        finally:
            os.close(fd)
    except (DikteError, OSError, Missing, NotAFolder):
        return None
    finally:
        sub.close()


def usage_bytes(root: Path) -> int:
    """Total size of the regular files under ``root``, links not followed. Each folder is opened
    relative to its parent (``O_NOFOLLOW``); one swapped for a link as we go is skipped."""
    try:
        top = os.open(root, DIR_FLAGS)
    except FileNotFoundError:
        return 0
    total = 0
    stack: list[tuple[int, list[os.DirEntry[str]]]] = [(top, [])]
    try:
        stack[0] = (top, _entries(top))
        while stack:
            fd, entries = stack[-1]
            if not entries:
                os.close(stack.pop()[0])
                continue
            e = entries.pop()
            try:
                if e.is_file(follow_symlinks=False):
                    total += e.stat(follow_symlinks=False).st_size  # fstatat(fd, name)
                    continue
                if not e.is_dir(follow_symlinks=False):
                    continue
                if len(stack) > MAX_DEPTH:
                    log.warning("%s: not counting below %d folders deep", root, MAX_DEPTH)
                    continue
                sub = os.open(e.name, DIR_FLAGS, dir_fd=fd)
            except OSError:  # removed, or swapped for a link, while we counted
                continue
            try:
                stack.append((sub, _entries(sub)))
            except OSError:
                os.close(sub)
    finally:
        for fd, _ in stack:
            os.close(fd)
    return total


def _entries(fd: int) -> list[os.DirEntry[str]]:
    """The entries of the open folder ``fd`` (their ``stat`` is ``fstatat(fd, name)``)."""
    with os.scandir(fd) as it:
        return list(it)


def remove_entry(dir_fd: int, name: str, display: str) -> None:
    """Remove ``name`` of the folder ``dir_fd``: a file or a link itself, or a folder with all it
    holds. Raises :class:`NotFound` when nothing is there."""
    try:
        os.unlink(name, dir_fd=dir_fd)
        return
    except FileNotFoundError:
        raise not_found(display) from None
    except IsADirectoryError:
        pass
    except PermissionError as exc:  # Linux answers EISDIR; others may answer EPERM for a folder
        if not st.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            raise exc from None
    _remove_tree(dir_fd, name, display)


def _remove_tree(dir_fd: int, name: str, display: str) -> None:
    """Remove the folder ``name`` and what it holds, depth first, every folder held open."""
    try:
        top = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        raise not_found(display) from None
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        remove_entry(dir_fd, name, display)  # swapped for a link or a file meanwhile
        return
    # each item: (parent fd, name in it, fd of the folder, its subfolders left, rescans)
    stack: list[tuple[int, str, int, list[str], int]] = []
    try:
        stack.append((dir_fd, name, top, _empty_files(top), 0))
        while stack:
            parent, here, fd, subdirs, rescans = stack[-1]
            if subdirs:
                sub = subdirs.pop()
                try:
                    sub_fd = os.open(sub, DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                        raise
                    with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                        os.unlink(sub, dir_fd=fd)  # it became a link or a file: remove that
                    continue
                if len(stack) > MAX_DEPTH:
                    os.close(sub_fd)
                    raise Conflict(
                        f"{display} holds folders more than {MAX_DEPTH} deep, too deep to delete "
                        "from here. Delete its deepest folders from a runtime first "
                        "(for example with rm -r).", code="too_deep")
                stack.append((fd, sub, sub_fd, _empty_files(sub_fd), 0))
                continue
            try:
                os.rmdir(here, dir_fd=parent)
            except FileNotFoundError:
                pass
            except OSError as exc:
                if exc.errno != errno.ENOTEMPTY or rescans >= _RESCANS:
                    raise
                stack[-1] = (parent, here, fd, _empty_files(fd), rescans + 1)  # filled meanwhile
                continue
            os.close(fd)
            stack.pop()
    finally:
        for _, _, fd, _, _ in stack:
            os.close(fd)


def _empty_files(fd: int) -> list[str]:
    """Remove every entry of the folder ``fd`` that is not a folder; return the folders' names."""
    subdirs = []
    with os.scandir(fd) as it:
        names = [e.name for e in it]
    for name in names:
        try:
            os.unlink(name, dir_fd=fd)
        except FileNotFoundError:
            pass
        except (IsADirectoryError, PermissionError):
            subdirs.append(name)
    return subdirs
