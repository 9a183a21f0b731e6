"""Finding an entry of a drive without ever leaving it: open folders, one name at a time.

A runtime writes into the drive while the server works on it, and it can swap any folder for a
symbolic link at any moment (``renameat2(RENAME_EXCHANGE)`` is atomic). So a path is never checked
and then used again as a string. A :class:`Walk` starts at the drive's root and opens each folder
relative to the one above with ``O_DIRECTORY | O_NOFOLLOW``, holding every folder open. Each folder
held is therefore a real folder inside the drive, whatever happens to the names afterwards, and
the operations act on one name in the last folder held (``dir_fd=``), or on an open descriptor.

A symbolic link met on the way is never followed by the kernel: it is read (``readlinkat``) and
its target walked the same way. ``..`` in a target goes back to the folder held one level up (never
above the root), and an absolute target must name the drive's root as the host sees it; anything
else is refused as leading outside the drive, and more than :data:`MAX_LINKS` links as a loop.
"""

from __future__ import annotations

import errno
import os
import stat as st
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType

from dikte.drive.paths import MAX_DEPTH, bad_path

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_LINKS = 40
"""Symbolic links one walk may follow (the kernel's own limit)."""
_RETRIES = 16
"""Times a name that changes under the walk (made, removed, swapped) is looked at again."""

MakeFolder = Callable[[int, str], "int | None"]
"""Creates folder ``name`` in the folder ``dir_fd`` and returns it opened (``DIR_FLAGS``), or None
when the name turned out to be taken (the walk then looks again)."""


class Missing(Exception):
    """Nothing is at ``where`` (drive-relative, as the walk found it)."""

    def __init__(self, where: tuple[str, ...]) -> None:
        super().__init__("/".join(where))
        self.where = where


class NotAFolder(Exception):
    """Something other than a folder is at ``where``, where a folder was needed."""

    def __init__(self, where: tuple[str, ...]) -> None:
        super().__init__("/".join(where))
        self.where = where


class Walk:
    """Folders held open from ``root`` down; :attr:`fd` is the deepest. Use it as a context."""

    def __init__(self, root: Path, rel: str) -> None:
        self.root = root
        self.rel = rel
        self.fds = [os.open(root, DIR_FLAGS)]
        self.names: list[str] = []
        self._links = 0

    @property
    def fd(self) -> int:
        return self.fds[-1]

    @property
    def where(self) -> tuple[str, ...]:
        """The drive-relative location of :attr:`fd`."""
        return tuple(self.names)

    def close(self) -> None:
        while self.fds:
            os.close(self.fds.pop())

    def __enter__(self) -> Walk:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # ---- moving --------------------------------------------------------------------------------

    def _push(self, fd: int, name: str) -> None:
        if len(self.fds) > MAX_DEPTH:
            os.close(fd)
            raise bad_path(self.rel, f"it leads more than {MAX_DEPTH} folders deep")
        self.fds.append(fd)
        self.names.append(name)

    def _up(self) -> None:
        if len(self.fds) == 1:
            raise bad_path(self.rel, "it leads outside your drive")
        os.close(self.fds.pop())
        self.names.pop()

    def _link_target(self, name: str) -> list[str] | None:
        """The names to walk instead of the link ``name`` (None: it is not a link)."""
        try:
            target = os.readlink(name, dir_fd=self.fd)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                raise Missing((*self.names, name)) from None
            if exc.errno == errno.EINVAL:
                return None
            raise
        self._links += 1
        if self._links > MAX_LINKS:
            raise bad_path(self.rel, "it goes through a loop of symbolic links")
        if target.startswith("/"):
            root = str(self.root)
            if target != root and not target.startswith(root + "/"):
                raise bad_path(self.rel, "it leads outside your drive")
            while len(self.fds) > 1:
                self._up()
            target = target[len(root):]
        return [p for p in target.split("/") if p not in ("", ".")]

    def enter(self, names: Iterable[str], make: MakeFolder | None = None) -> None:
        """Walk down into the folders ``names`` (links inside the drive followed). A missing folder
        raises :class:`Missing`, or is created with ``make``; a file raises :class:`NotAFolder`."""
        todo = deque(names)
        tries = 0
        while todo:
            name = todo.popleft()
            if name == "..":
                self._up()
                continue
            try:
                fd: int | None = os.open(name, DIR_FLAGS, dir_fd=self.fd)
            except FileNotFoundError:
                if make is None:
                    raise Missing((*self.names, name)) from None
                fd = make(self.fd, name)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                target = self._link_target(name)
                if target is None:
                    raise NotAFolder((*self.names, name)) from None
                todo.extendleft(reversed(target))
                continue
            if fd is None:  # made by someone else a moment ago: look again
                tries += 1
                if tries > _RETRIES:
                    raise bad_path(self.rel, "it kept changing while it was opened")
                todo.appendleft(name)
                continue
            self._push(fd, name)

    def open_entry(self, name: str, flags: int) -> tuple[int, str]:
        """Open ``name`` of the current folder with ``flags`` (plus ``O_NOFOLLOW``); a link inside
        the drive is followed, moving the walk to the folder its target is in. Returns the
        descriptor and the name it was opened by (``"."``: the folder the walk now holds).

        With ``O_PATH`` the kernel opens a link itself; that is noticed and followed too."""
        tries = 0
        while True:
            try:
                fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.fd)
            except FileNotFoundError:
                raise Missing((*self.names, name)) from None
            except OSError as exc:
                if exc.errno != errno.ELOOP:
                    raise
            else:
                if not flags & os.O_PATH or not st.S_ISLNK(os.fstat(fd).st_mode):
                    return fd, name
                os.close(fd)
            target = self._link_target(name)
            if target is None:  # a link a moment ago, not now: look again
                tries += 1
                if tries > _RETRIES:
                    raise bad_path(self.rel, "it kept changing while it was opened")
                continue
            if not target:  # the drive's root itself
                name = "."
                continue
            *folders, last = target
            self.enter(folders)
            if last == "..":
                self._up()
                last = "."
            name = last
