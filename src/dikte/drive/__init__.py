"""Per-person persistent storage: path safety, atomic writes, quotas, notebook validation."""

from dikte.drive.entry import NOTEBOOKS_DIR, Entry
from dikte.drive.store import Drive

__all__ = ["NOTEBOOKS_DIR", "Drive", "Entry"]
