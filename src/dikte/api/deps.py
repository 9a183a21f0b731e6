"""Request dependencies: the services container and the authenticated person.

Two credentials exist. Programs send a personal API token as ``Authorization: Bearer`` (or, on a
WebSocket from a browser, as the subprotocol ``dikte.token.<token>``); tokens never travel in
URLs. The web app holds a server-side session whose random id is in an HttpOnly, SameSite=Lax
cookie (``__Host-dikte_session`` over HTTPS, ``dikte_session`` over plain http).

CSRF: a cookie travels with requests another site makes a browser send, so a cookie-authenticated
request that changes state, and every WebSocket, must carry an Origin header naming this server.
That is enough without a CSRF token: every browser Dikte supports sends Origin on cross-site
POST/PUT/PATCH/DELETE and on WebSocket handshakes, a page cannot forge or remove it, and
SameSite=Lax already keeps the cookie off cross-site subrequests (only top-level GET navigations
carry it, and GETs change nothing). Requests without Origin come from programs, which
authenticate with a bearer token, not a browser's ambient cookie.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from starlette.requests import HTTPConnection

from dikte.bridge.channel import RuntimeChannel
from dikte.config import Settings
from dikte.control.manager import SessionManager
from dikte.db import Credential, Database, Person
from dikte.db.accounts import hash_secret
from dikte.drive import Drive
from dikte.errors import Forbidden, Unauthorized
from dikte.runtimes.base import RuntimeBackend

TOKEN_PROTOCOL_PREFIX = "dikte.token."
COOKIE_NAME = "dikte_session"
SECURE_COOKIE_NAME = "__Host-dikte_session"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass
class Services:
    settings: Settings
    db: Database
    backend: RuntimeBackend
    sessions: SessionManager
    channel: RuntimeChannel
    """Code in runtimes <-> the notebook's tabs (see dikte.bridge.channel)."""

    def drive(self, person_id: int) -> Drive:
        return self.sessions.drive_for(person_id)


def services(conn: HTTPConnection) -> Services:
    svc: Services = conn.app.state.services
    return svc


def is_https(conn: HTTPConnection) -> bool:
    return conn.url.scheme in ("https", "wss")


def cookie_name(conn: HTTPConnection) -> str:
    """``__Host-`` over HTTPS: the browser then insists on Secure, Path=/ and no Domain."""
    return SECURE_COOKIE_NAME if is_https(conn) else COOKIE_NAME


def bearer_token(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    # browsers cannot set headers on a WebSocket; they offer the token as a subprotocol
    for proto in conn.headers.get("sec-websocket-protocol", "").split(","):
        proto = proto.strip()
        if proto.startswith(TOKEN_PROTOCOL_PREFIX):
            return proto[len(TOKEN_PROTOCOL_PREFIX):]
    return None


def credential(conn: HTTPConnection, *, unsafe: bool = False) -> Credential:
    """The credential behind a bearer token or the web app's session cookie.

    ``unsafe``: the request changes state (every WebSocket does), so a cookie needs our Origin
    and the credential needs the write scope.
    """
    db = services(conn).db
    token = bearer_token(conn)
    if token:
        cred = db.credential_for_token(token)
        if cred is None:
            raise Unauthorized("This token is not valid (mistyped, expired or revoked).",
                               code="bad_token")
    else:
        session_id = conn.cookies.get(cookie_name(conn))
        if not session_id:
            raise Unauthorized("Sign in first: send your token as 'Authorization: Bearer "
                               "<token>'.", code="no_token")
        if unsafe:
            check_origin(conn, required=True)
        cred = db.credential_for_session(session_id)
        if cred is None:
            raise Unauthorized("Your sign-in has ended (signed out, expired or revoked). "
                               "Sign in again.", code="signed_out")
    if unsafe and "write" not in cred.scopes:
        raise Forbidden("This token may only read (scope read). Create a token with the write "
                        "scope to change anything.", code="read_only")
    return cred


def credential_key(conn: HTTPConnection) -> str:
    """Names the credential a connection uses (a hash, never the secret): ``t:`` a token,
    ``s:`` the web app's sign-in; a socket opened with it is closed when it ends."""
    token = bearer_token(conn)
    if token:
        return "t:" + hash_secret(token)
    return "s:" + hash_secret(conn.cookies.get(cookie_name(conn)) or "")


def authenticate(conn: HTTPConnection, *, unsafe: bool = False) -> Person:
    """The person behind the request's credential (see :func:`credential`)."""
    return credential(conn, unsafe=unsafe).person


def check_origin(conn: HTTPConnection, *, required: bool = False) -> None:
    """Refuse cross-site requests: a browser always sends Origin on them."""
    origin = conn.headers.get("origin")
    if origin is None:
        if required:
            raise Forbidden("This request must come from Dikte's own pages.", code="bad_origin")
        return
    if origin.lower() != own_origin(conn):
        raise Forbidden(f"Requests from {origin} are not accepted here.", code="bad_origin")


def own_origin(conn: HTTPConnection) -> str:
    """This server's origin as the browser names it: scheme, host and port (the scheme is https
    behind a TLS proxy that uvicorn trusts to say so)."""
    scheme = "https" if conn.url.scheme in ("https", "wss") else "http"
    return f"{scheme}://{conn.headers.get('host', '').lower()}"


def current_credential(request: Request) -> Credential:
    unsafe = request.method not in SAFE_METHODS
    if unsafe:
        check_origin(request)
    return credential(request, unsafe=unsafe)


def current_person(request: Request) -> Person:
    return current_credential(request).person


def current_admin(request: Request) -> Credential:
    """An administrator whose credential carries the admin scope."""
    cred = current_credential(request)
    if not cred.person.is_admin:
        raise Forbidden("Only an administrator may do this.", code="not_admin")
    if "admin" not in cred.scopes:
        raise Forbidden("This token lacks the admin scope. Create a token with the admin scope "
                        "for administration.", code="missing_scope")
    return cred


PersonDep = Annotated[Person, Depends(current_person)]
CredentialDep = Annotated[Credential, Depends(current_credential)]
AdminDep = Annotated[Credential, Depends(current_admin)]
ServicesDep = Annotated[Services, Depends(services)]
# A row id in a path: the database's integers are 64-bit, so larger ones are refused with 422
# before they reach it (SQLite raises OverflowError on them).
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]
