"""The server's secret key, and keys derived from it for one purpose each.

One random 32-byte key lives in ``<data_dir>/server.key`` (mode 0600, made at first start). Every
use derives its own key with HMAC-SHA256 over a purpose label, so a key for signing runtime
channel tokens can never decrypt stored secrets. Losing the file invalidates what was derived from
it (stored secrets become unreadable), so back it up with the database.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

KEY_FILE = "server.key"
KEY_BYTES = 32


def server_key(data_dir: Path) -> bytes:
    """The server's key, created (atomically, 0600) when it does not exist yet."""
    path = data_dir / KEY_FILE
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_bytes(KEY_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # fails if another process made it first: theirs wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise RuntimeError(f"{path} is damaged: expected {KEY_BYTES} bytes, found {len(key)}; "
                           "restore it from a backup")
    return key


def derive_key(data_dir: Path, purpose: str) -> bytes:
    """A 32-byte key for one purpose (``"runtime-channel"``, ``"secrets"``...)."""
    return hmac.new(server_key(data_dir), b"dikte:" + purpose.encode(), hashlib.sha256).digest()
