"""Database access: SQLite by default, PostgreSQL in production."""

from dikte.db.accounts import SCOPES, Credential, Person, TokenInfo
from dikte.db.store import Database, RuntimeRecord

__all__ = ["SCOPES", "Credential", "Database", "Person", "RuntimeRecord", "TokenInfo"]
