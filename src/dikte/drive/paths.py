"""Path safety: turn a drive-relative path from a person into parts that cannot leave the drive.

Paths from people (and files a runtime left in the drive) are hostile. A path is refused here when
it is absolute, holds ``..``, a backslash or a control character, or is too long (over
:data:`MAX_PATH_BYTES` bytes, a name over 255 bytes, or more than :data:`MAX_DEPTH` names), before
anything is touched. What the parts then name is found by :class:`dikte.drive.walk.Walk`, one open
folder at a time, so that no symbolic link, even one swapped in during the walk, leads outside.
"""

from __future__ import annotations

import json

from dikte.errors import BadRequest

_MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4096
"""The longest path a person may name (Linux's PATH_MAX)."""
MAX_DEPTH = 256
"""The most folders deep a path may lead, written out or through links."""


def show(rel: str) -> str:
    """A path as people read it in a message: quoted, with invisible characters escaped, and cut
    short when it is too long to read."""
    shown = json.dumps(rel if len(rel) <= 200 else rel[:100] + "…", ensure_ascii=False)
    return shown.encode("utf-8", "backslashreplace").decode("utf-8")  # unpaired surrogates


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
    if not is_text(rel):
        raise bad_path(rel, "it is not valid text (it holds an unpaired surrogate such as "
                            "\\udc80)")
    if "\\" in rel:
        raise bad_path(rel, "use / to separate folders, not \\")
    if len(rel.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES:
        raise bad_path(rel, f"a path may be at most {MAX_PATH_BYTES} bytes long")
    if rel.startswith("/"):
        raise bad_path(rel, "it must be relative to your drive, without a leading /")
    parts = tuple(p for p in rel.split("/") if p not in ("", "."))
    if ".." in parts:
        raise bad_path(rel, "it may not contain ..")
    if len(parts) > MAX_DEPTH:
        raise bad_path(rel, f"a path may name at most {MAX_DEPTH} folders and files")
    for part in parts:
        if len(part.encode("utf-8", "surrogateescape")) > _MAX_NAME_BYTES:
            raise bad_path(rel, f"a name may be at most {_MAX_NAME_BYTES} bytes long")
    return parts


def join(parts: tuple[str, ...]) -> str:
    return "/".join(parts)


def canonical(rel: str) -> str:
    """The one spelling of a drive path: ``Notebooks//x.ipynb``, ``./Notebooks/x.ipynb`` and
    ``Notebooks/x.ipynb/`` are all ``Notebooks/x.ipynb`` (what may not be a path is refused as
    :func:`clean_parts` does). An open notebook is known by this spelling."""
    return join(clean_parts(rel))


def is_text(name: str) -> bool:
    """Whether ``name`` is valid Unicode text: a path from a person with an unpaired surrogate,
    or a file name on disk that is not UTF-8 (a runtime can make one), is not."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
