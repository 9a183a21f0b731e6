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
from collections.abc import Iterator
from pathlib import Path

from dikte.drive.atomic import is_temp_name
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
    """Total size of the regular files under ``root``, links not followed, and not counting the
    temp files of saves (see :func:`is_save_temp`)."""
    return sum(f.st_size for _, _, f in _regular_files(root) if not is_save_temp(f.name, f.st_uid))


class _Found:
    """A regular file met by :func:`_regular_files`: its name and what ``fstatat`` said."""

    __slots__ = ("name", "st_size", "st_uid")

    def __init__(self, name: str, info: os.stat_result) -> None:
        self.name = name
        self.st_size = info.st_size
        self.st_uid = info.st_uid


def is_save_temp(name: str, uid: int) -> bool:
    """A temp file the server made for a save or an upload (see :mod:`dikte.drive.atomic`):
    named so, and still the server's own (it is given to the drive's owner only when it is put in
    place, so a file a runtime names like one is not taken for one)."""
    return is_temp_name(name) and uid == os.geteuid()


def remove_save_temps(root: Path) -> list[str]:
    """Remove the temp files of saves under ``root`` (their saves were cut off: call it only when
    none can be running, at start-up); returns their drive-relative paths. A file a save put in
    place but had not yet given to the drive's owner (the server was killed in between) is
    given now."""
    removed: list[str] = []
    server = os.geteuid()
    try:
        owner = os.stat(root).st_uid
    except OSError:
        return removed
    for fd, where, found in _regular_files(root):
        if is_save_temp(found.name, found.st_uid):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(found.name, dir_fd=fd)
                removed.append(join((*where, found.name)))
        elif found.st_uid == server != owner:
            with contextlib.suppress(FileNotFoundError):
                os.chown(found.name, owner, owner, dir_fd=fd, follow_symlinks=False)
                log.info("gave %s/%s to the drive's owner (a save was cut off)", root.name,
                         join((*where, found.name)))
    return removed


def remove_interrupted_saves(drives: Path) -> int:
    """At start-up, before any save can run: remove the temp files that saves cut off (a server
    killed mid-save) left in every drive under ``drives``, and log them; returns how many."""
    total = 0
    folders = sorted(p for p in drives.iterdir() if p.is_dir()) if drives.is_dir() else []
    for root in folders:
        for rel in remove_save_temps(root):
            log.info("removed %s/%s, the temp file of a save that was cut off", root.name, rel)
            total += 1
    if total:
        log.warning("removed %d temp files of interrupted saves from the drives in %s",
                    total, drives)
    return total


def _regular_files(root: Path) -> Iterator[tuple[int, tuple[str, ...], _Found]]:
    """Every regular file under ``root``: the open folder it is in, that folder's drive-relative
    names, and the file. Each folder is opened relative to its parent (``O_NOFOLLOW``); one
    swapped for a link as we go is skipped."""
    try:
        top = os.open(root, DIR_FLAGS)
    except FileNotFoundError:
        return
    stack: list[tuple[int, tuple[str, ...], list[os.DirEntry[str]]]] = [(top, (), [])]
    try:
        stack[0] = (top, (), _entries(top))
        while stack:
            fd, where, entries = stack[-1]
            if not entries:
                os.close(stack.pop()[0])
                continue
            e = entries.pop()
            try:
                if e.is_file(follow_symlinks=False):
                    found = _Found(e.name, e.stat(follow_symlinks=False))  # fstatat(fd, name)
                elif not e.is_dir(follow_symlinks=False):
                    continue
                elif len(stack) > MAX_DEPTH:
                    log.warning("%s: not looking below %d folders deep", root, MAX_DEPTH)
                    continue
                else:
                    sub = os.open(e.name, DIR_FLAGS, dir_fd=fd)
                    found = None
            except OSError:  # removed, or swapped for a link, while we looked
                continue
            if found is not None:
                yield fd, where, found
                continue
            try:
                stack.append((sub, (*where, e.name), _entries(sub)))
            except OSError:
                os.close(sub)
    finally:
        for fd, _, _ in stack:
            os.close(fd)


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
