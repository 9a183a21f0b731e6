"""Recognising a database write that failed because the disk under the database is full."""

from __future__ import annotations

import errno
import sqlite3

_DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_PG_DISK_FULL = "53100"  # SQLSTATE disk_full


def is_storage_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it wraps) says the disk or the database is full:
    an OSError ENOSPC/EDQUOT, SQLite's SQLITE_FULL, or PostgreSQL's disk_full."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _DISK_FULL_ERRNOS:
            return True
        if isinstance(current, sqlite3.Error) and (
                getattr(current, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
                or "database or disk is full" in str(current)):
            return True
        if getattr(current, "sqlstate", None) == _PG_DISK_FULL \
                or getattr(current, "pgcode", None) == _PG_DISK_FULL:
            return True
        orig = getattr(current, "orig", None)  # SQLAlchemy's DBAPIError wraps the driver's
        current = orig if isinstance(orig, BaseException) else (
            current.__cause__ or current.__context__)
    return False
