"""What a listing shows about one file or folder in a drive."""

from __future__ import annotations

from dataclasses import asdict, dataclass

NOTEBOOKS_DIR = "Notebooks"
"""The folder of a drive where notebooks live by default."""

NOTEBOOK_SUFFIX = ".ipynb"


@dataclass(frozen=True)
class Entry:
    name: str
    """Last path component ("" for the root)."""
    path: str
    """Drive-relative POSIX path without a leading slash; "" is the root."""
    kind: str
    """``"dir"``, ``"notebook"`` (``*.ipynb``) or ``"file"``."""
    size: int
    """Bytes; 0 for folders."""
    modified: float
    """Modification time, unix seconds."""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def kind_of(name: str, is_dir: bool) -> str:
    if is_dir:
        return "dir"
    return "notebook" if name.endswith(NOTEBOOK_SUFFIX) else "file"
