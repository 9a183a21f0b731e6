"""Path safety: turn a drive-relative path from a person into parts that cannot leave the drive.

Paths from people (and files a runtime left in the drive) are hostile. A path is refused when it is
absolute, holds ``..``, a backslash or a control character, or when its real location (symbolic
links followed) is not under the drive's root. The check compares whole path components
(``Path.is_relative_to`` on resolved paths), so ``/data/drives/10`` is not inside
``/data/drives/1``.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

from dikte.errors import BadRequest

_MAX_NAME_BYTES = 255


def show(rel: str) -> str:
    """A path as people read it in a message: quoted, with invisible characters escaped."""
    return json.dumps(rel, ensure_ascii=False)


def bad_path(rel: str, reason: str) -> BadRequest:
    return BadRequest(
        f"The path {show(rel)} is not allowed in your drive: {reason}.",
        code="bad_path",
        log_message=f"refused drive path {rel!r}: {reason}",
    )


def clean_parts(rel: str) -> tuple[str, ...]:
    """Split ``rel`` into its components, refusing anything that could name a place outside.

    Empty components and ``.`` are dropped, so ``"a//b/./c/"`` is ``("a", "b", "c")`` and ``""`` is
    the root.
    """
    if not isinstance(rel, str):
        raise bad_path(str(rel), "it is not text")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in rel):
        raise bad_path(rel, "it contains a control character")
    if "\\" in rel:
        raise bad_path(rel, "use / to separate folders, not \\")
    if rel.startswith("/"):
        raise bad_path(rel, "it must be relative to your drive, without a leading /")
    parts = tuple(p for p in rel.split("/") if p not in ("", "."))
    if ".." in parts:
        raise bad_path(rel, "it may not contain ..")
    for part in parts:
        if len(part.encode("utf-8", "surrogateescape")) > _MAX_NAME_BYTES:
            raise bad_path(rel, f"a name may be at most {_MAX_NAME_BYTES} bytes long")
    return parts


def join(parts: tuple[str, ...]) -> str:
    return "/".join(parts)


def is_within(path: Path, root: Path) -> bool:
    """Whether ``path`` (already resolved) is ``root`` or below it, component by component."""
    return path == root or path.is_relative_to(root)


def real_within(root: Path, path: Path, rel: str) -> Path:
    """The real location of ``path`` (links followed; need not exist), checked to be under root."""
    real = Path(os.path.realpath(path))
    if not is_within(real, root):
        raise bad_path(rel, "it leads outside your drive")
    try:
        os.stat(real)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise bad_path(rel, "it goes through a loop of symbolic links") from None
    return real


def check_fd_within(fd: int, root: Path, rel: str) -> None:
    """Refuse an open file or folder that turns out to lie outside root (a swapped symlink race).

    Uses ``/proc/self/fd``; where that is missing (not Linux) the earlier path check stands alone.
    """
    try:
        where = Path(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        return
    if not is_within(where, root):
        os.close(fd)
        raise bad_path(rel, "it leads outside your drive")
