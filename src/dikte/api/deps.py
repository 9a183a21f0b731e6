"""Request dependencies: the services container and the authenticated person."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from dikte.config import Settings
from dikte.db import Database, Person
from dikte.drive import Drive
from dikte.errors import Forbidden, Unauthorized
from dikte.runtimes.base import RuntimeBackend
from dikte.sessions.manager import SessionManager

TOKEN_PROTOCOL_PREFIX = "dikte.token."
COOKIE_NAME = "dikte_session"


@dataclass
class Services:
    settings: Settings
    db: Database
    backend: RuntimeBackend
    sessions: SessionManager

    def drive(self, person_id: int) -> Drive:
        return self.sessions.drive_for(person_id)


def services(conn: HTTPConnection) -> Services:
    svc: Services = conn.app.state.services
    return svc


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


def authenticate(conn: HTTPConnection, *, unsafe: bool = False) -> Person:
    """The person behind a bearer token, or behind the web app's session cookie.

    A cookie travels with every request a browser makes, also those another site makes it send,
    so a cookie-authenticated request that changes state (and every WebSocket) must carry an
    Origin header naming this server.
    """
    token = bearer_token(conn)
    if not token:
        token = conn.cookies.get(COOKIE_NAME)
        if token and unsafe:
            check_origin(conn, required=True)
    if not token:
        raise Unauthorized("Sign in first: send your token as 'Authorization: Bearer <token>'.",
                           code="no_token")
    person = services(conn).db.person_for_token(token)
    if person is None:
        raise Unauthorized("This token is not valid (mistyped, or revoked).", code="bad_token")
    return person


def check_origin(conn: HTTPConnection, *, required: bool = False) -> None:
    """Refuse cross-site requests: a browser always sends Origin on them."""
    origin = conn.headers.get("origin")
    if origin is None:
        if required:
            raise Forbidden("This request must come from Dikte's own pages.", code="bad_origin")
        return
    host = conn.headers.get("host", "")
    if origin.split("://", 1)[-1] != host:
        raise Forbidden(f"Requests from {origin} are not accepted here.", code="bad_origin")


def current_person(request: Request) -> Person:
    unsafe = request.method not in ("GET", "HEAD", "OPTIONS")
    if unsafe:
        check_origin(request)
    return authenticate(request, unsafe=unsafe)


PersonDep = Annotated[Person, Depends(current_person)]
ServicesDep = Annotated[Services, Depends(services)]
