"""Where the web app may send someone after sign-in: a path on this server, never elsewhere.

``next`` arrives from a link anyone can write (``/signin?next=...``), so it is an open redirect
waiting to happen unless it is held to a path of ours (the lesson of Jupyter's login advisories,
e.g. CVE-2019-10255 and GHSA-r726-vmfq-j9j3). :func:`safe_next` is pure: the value and this
server's origin in, a path out. It keeps only

- a path that starts with exactly one ``/`` (not ``//`` or ``/\\``, which browsers read as
  another host), made of printable ASCII without backslashes, at most ``MAX_NEXT`` long, and
  that still starts with a single ``/`` once percent-decoded (``/%2F%2Fevil``) and holds no
  control characters then (``/%09/evil``), and has no ``.`` or ``..`` segment in its path;
- an absolute ``http(s)`` URL of this very origin (same scheme, host and port), reduced to its
  path, query and fragment and then held to the rules above.

Anything else (another host or port, ``javascript:``, ``data:``, ``http:evil``, a relative path,
whitespace anywhere) gives :data:`DEFAULT_NEXT`, the drive.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

DEFAULT_NEXT = "/#/drive"
MAX_NEXT = 2048
_PRINTABLE = re.compile(r"[\x21-\x7e]*")  # no spaces, tabs, newlines, controls or non-ASCII
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _same_site_path(value: str) -> bool:
    if not value.startswith("/") or value[1:2] in ("/", "\\"):
        return False
    if "\\" in value or not _PRINTABLE.fullmatch(value):
        return False
    decoded = unquote(value)
    if decoded[1:2] in ("/", "\\") or _CONTROL.search(decoded):
        return False
    # no dot segments: /.//evil resolves to the path //evil, which on its own names a host
    path = re.split(r"[?#]", decoded, maxsplit=1)[0]
    return not any(segment in (".", "..") for segment in path.split("/"))


def safe_next(value: str | None, origin: str) -> str:
    """``value`` as a path on this server when it is one, else the drive.

    ``origin`` is this server as the browser sees it: ``scheme://host[:port]``.
    """
    if not value or len(value) > MAX_NEXT:
        return DEFAULT_NEXT
    if value.lower().startswith(("http://", "https://")):
        if not _PRINTABLE.fullmatch(value) or "\\" in value:
            return DEFAULT_NEXT
        try:
            parts = urlsplit(value)
            port = parts.port
        except ValueError:
            return DEFAULT_NEXT
        ours = urlsplit(origin)
        if (parts.scheme.lower(), (parts.hostname or ""), port or _default_port(parts.scheme)) != (
                ours.scheme.lower(), (ours.hostname or ""), ours.port or _default_port(ours.scheme)):
            return DEFAULT_NEXT
        if parts.username is not None or parts.password is not None:
            return DEFAULT_NEXT
        value = (parts.path or "/") + (f"?{parts.query}" if parts.query else "") + (
            f"#{parts.fragment}" if parts.fragment else "")
    return value if _same_site_path(value) else DEFAULT_NEXT


def _default_port(scheme: str) -> int:
    return 443 if scheme.lower() == "https" else 80
