"""Database access: SQLite by default, PostgreSQL in production."""

from dikte.db.store import Database, Person, RuntimeRecord

__all__ = ["Database", "Person", "RuntimeRecord"]
