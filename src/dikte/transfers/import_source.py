"""Where "Open from URL" fetches a notebook from: pure rules, no network.

:func:`source_for` turns what a person typed into an :class:`HttpSource` (an ``.ipynb`` URL, with
``github.com/<user>/<repo>/blob/<ref>/<path>`` and Colab's ``/github/...`` links mapped to the raw
file) or a :class:`GitSource` (a repository URL and the notebook's path in it). Only http, https
and (for repositories) git URLs are accepted: ``file://``, ``ssh://``, ``ext::`` and the rest are
refused, so nobody makes the server read its own files or run a command through git.
:func:`address_refusal` says why an address may not be reached unless the administrator allows
private addresses (loopback, private, link-local, carrier-grade NAT, multicast, and IPv6 forms
that embed one of those).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from dikte.errors import BadRequest

HTTP_SCHEMES = ("http", "https")
GIT_SCHEMES = ("http", "https", "git")
NOTEBOOK = ".ipynb"
_GITHUB_HOSTS = ("github.com", "www.github.com")
_COLAB_HOST = "colab.research.google.com"
_REF = re.compile(r"[A-Za-z0-9._/][A-Za-z0-9._/+-]*")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_MAX_NAME = 200


@dataclass(frozen=True)
class HttpSource:
    """A notebook file at an http(s) URL; ``name`` is the file name its copy gets."""

    url: str
    name: str


@dataclass(frozen=True)
class GitSource:
    """The notebook at ``path`` in the git repository at ``url`` (``ref``: branch or tag)."""

    url: str
    path: str
    ref: str | None
    name: str


def _bad(message: str, code: str = "bad_url") -> BadRequest:
    return BadRequest(message, code=code)


def display_url(url: str) -> str:
    """The URL without a user name or password, for messages and logs."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def copy_name(path: str) -> str:
    """The file name a copy of the notebook at URL path ``path`` gets in the drive."""
    last = unquote(path.rstrip("/").rsplit("/", 1)[-1])
    name = "".join(ch for ch in last if ch.isprintable() and ch not in '/\\:*?"<>|').strip(" .")
    if not name:
        name = "Untitled"
    if not name.lower().endswith(NOTEBOOK):
        name += NOTEBOOK
    if len(name) > _MAX_NAME:
        name = name[: _MAX_NAME - len(NOTEBOOK)] + NOTEBOOK
    return name


def _scheme_refusal(scheme: str, allowed: tuple[str, ...], what: str) -> BadRequest:
    shown = f"{scheme}://" if scheme else "a URL without a scheme"
    return _bad(f"{what} can only be opened from {', '.join(allowed)} URLs, not {shown}.",
                code="bad_url_scheme")


def _split(url: str, allowed: tuple[str, ...], what: str) -> tuple[str, str, str]:
    text = url.strip()
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise _bad("A URL cannot contain spaces or control characters; copy the link again.")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise _bad(f"{display_url(text)} is not a valid URL.") from None
    scheme = parts.scheme.lower()
    if scheme not in allowed:
        raise _scheme_refusal(scheme, allowed, what)
    if not parts.hostname:
        raise _bad(f"{display_url(text)} names no host.")
    return text, parts.hostname.lower(), parts.path


def _github_raw(host: str, path: str, raw_base: str) -> str | None:
    """``github.com/<u>/<r>/blob|raw/<ref>/<path>`` (or Colab's ``/github/<u>/<r>/blob/...``) as
    ``<raw_base>/<u>/<r>/<ref>/<path>``; None for any other URL."""
    segments = [s for s in path.split("/") if s]
    if host == _COLAB_HOST and segments[:1] == ["github"]:
        segments = segments[1:]
    elif host not in _GITHUB_HOSTS:
        return None
    if len(segments) < 5 or segments[2] not in ("blob", "raw"):
        return None
    user, repo, _, *rest = segments
    return "/".join([raw_base.rstrip("/"), user, repo, *rest])


def _repo_path(path: str) -> str:
    clean = path.strip().strip("/")
    parts = clean.split("/")
    if not clean or any(p in ("", ".", "..") for p in parts) or clean.startswith("-"):
        raise _bad(f"{path!r} is not a path inside the repository (e.g. notebooks/intro.ipynb).",
                   code="bad_repo_path")
    if not clean.lower().endswith(NOTEBOOK):
        raise _bad(f"{clean} is not a notebook: its name must end in .ipynb.",
                   code="bad_repo_path")
    return clean


def source_for(url: str, repo_path: str | None, ref: str | None, github_raw_url: str
               ) -> HttpSource | GitSource:
    """What to fetch for the URL (and, for a git repository, the notebook's path and ref)."""
    if repo_path is not None and repo_path.strip():
        text, _, _ = _split(url, GIT_SCHEMES, "A git repository")
        path = _repo_path(repo_path)
        if ref is not None and ref.strip():
            ref = ref.strip()
            if not _REF.fullmatch(ref) or ".." in ref:
                raise _bad(f"{ref!r} is not a branch or tag name.", code="bad_ref")
        else:
            ref = None
        return GitSource(url=text, path=path, ref=ref, name=copy_name(path))
    text, host, path = _split(url, HTTP_SCHEMES, "A notebook")
    raw = _github_raw(host, path, github_raw_url)
    if raw is not None:
        return HttpSource(url=raw, name=copy_name(raw))
    if host in _GITHUB_HOSTS:
        raise _bad("That GitHub page is not a notebook. Open the notebook on GitHub and copy its "
                   "link (…/blob/<branch>/<path>.ipynb), or give the repository's URL and the "
                   "notebook's path in it.")
    if path.rstrip("/").endswith(".git"):
        raise _bad("That is a git repository: also give the notebook's path in it.",
                   code="bad_repo_path")
    return HttpSource(url=text, name=copy_name(path))


def address_refusal(address: str) -> str | None:
    """Why ``address`` is not a public internet address, or None when it is one."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address} is not an IP address"
    embedded: ipaddress.IPv4Address | None = None
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    for candidate in (ip, embedded):
        if candidate is None:
            continue
        if candidate.is_loopback:
            return f"{address} is a loopback address"
        if candidate.is_multicast:
            return f"{address} is a multicast address"
        if not candidate.is_global:
            return f"{address} is a private or reserved address"
    return None
