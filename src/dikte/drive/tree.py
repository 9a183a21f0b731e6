"""Looking at what is in a drive: one entry's description, and the drive's total size."""

from __future__ import annotations

import os
import stat as st
from pathlib import Path

from dikte.drive.entry import Entry, kind_of
from dikte.drive.paths import join, real_within
from dikte.errors import BadRequest, NotFound


def not_found(display: str) -> NotFound:
    return NotFound(f"{display} was not found in your drive.")


def entry_at(root: Path, parts: tuple[str, ...], path: Path) -> Entry:
    """Describe the entry at ``path`` (its folder already checked); a link is not followed out."""
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise not_found(join(parts)) from None
    if st.S_ISLNK(info.st_mode):
        try:  # a link within the drive shows what it points to; any other shows as itself
            info = os.stat(real_within(root, path, join(parts)))
        except (BadRequest, OSError):
            pass
    name = parts[-1] if parts else ""
    is_dir = st.S_ISDIR(info.st_mode)
    return Entry(
        name=name,
        path=join(parts),
        kind=kind_of(name, is_dir),
        size=0 if is_dir else info.st_size,
        modified=info.st_mtime,
    )


def usage_bytes(root: Path) -> int:
    """Total size of the regular files under ``root``, links not followed."""
    total = 0
    stack = [str(root)]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for e in it:
                    if e.is_dir(follow_symlinks=False):
                        stack.append(e.path)
                    elif e.is_file(follow_symlinks=False):
                        total += e.stat(follow_symlinks=False).st_size
        except OSError:  # removed while we counted
            continue
    return total
