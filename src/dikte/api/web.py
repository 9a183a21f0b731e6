"""The web app: sign-in (a server-side session in a cookie) and the built front end.

The front end is one page served at ``/`` (hash routes), at ``/signin`` (``?next=`` says where to
go after signing in; someone already signed in is sent there at once) and at ``/invite`` (the
invitation's code is in the fragment, which browsers never send to a server).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.requests import HTTPConnection

from dikte.api.deps import (
    COOKIE_NAME,
    SECURE_COOKIE_NAME,
    Services,
    ServicesDep,
    check_origin,
    cookie_name,
    credential_key,
    is_https,
)
from dikte.api.errors import error_responses
from dikte.api.login_limits import DEVICE_COOKIE_AGE, KnownDevices, LoginLimiter, keys_for
from dikte.api.redirects import safe_next
from dikte.db import SCOPES, Person
from dikte.db.sign_ins import SignInFailures
from dikte.errors import BadRequest, NotFound, Unauthorized
from dikte.schemas.rest import ErrorResponse, LoginBody, SignedIn

STATIC = Path(__file__).resolve().parents[1] / "static"
SESSION_LIFETIME = 30 * 24 * 3600  # seconds a web sign-in lasts
router = APIRouter(tags=["auth"])


def origin_of(conn: HTTPConnection) -> str:
    """This server as the browser sees it: ``scheme://host[:port]``."""
    return f"{conn.url.scheme}://{conn.headers.get('host', conn.url.netloc)}"


def login_limiter(svc: Services) -> LoginLimiter:
    return LoginLimiter(SignInFailures(svc.db.session, clock=svc.db.clock))


def known_devices(conn: HTTPConnection) -> KnownDevices:
    devices: KnownDevices = conn.app.state.known_devices  # made at start-up (app.py)
    return devices


def device_cookie_name(conn: HTTPConnection) -> str:
    return "__Host-dikte_device" if is_https(conn) else "dikte_device"


def start_browser_session(request: Request, response: Response, svc: Services,
                          person: Person, scopes: Iterable[str]) -> None:
    """Sign this browser in: a server-side session whose id goes into the cookie."""
    session_id = svc.db.start_web_session(person.id, SESSION_LIFETIME, scopes)
    response.set_cookie(cookie_name(request), session_id, httponly=True, samesite="lax",
                        path="/", secure=is_https(request), max_age=SESSION_LIFETIME)


@router.post("/api/auth/login", response_model=SignedIn, responses={
    **error_responses(400, 401, 403, 422),
    429: {"model": ErrorResponse, "description": "Too many failed sign-ins; see Retry-After."}})
def login(body: LoginBody, request: Request, response: Response,
          svc: ServicesDep) -> SignedIn:
    """Sign in with name and password (or a token): starts a server-side session whose id goes
    into an HttpOnly, SameSite=Lax cookie (``__Host-dikte_session`` over HTTPS). The answer's
    ``next`` is the body's ``next`` when that is a path on this server, else the drive."""
    # a plain def: Starlette runs it in its threadpool, so argon2 (tens of milliseconds of CPU)
    # and the database's round trips never hold the event loop every person shares
    check_origin(request, required=True)
    address = request.client.host if request.client else "unknown"
    devices = known_devices(request)
    if body.token is None:
        if not body.name or body.password is None:
            raise BadRequest("Give your name and password (or an access token).",
                             code="bad_login")
        device = devices.verify(body.name, request.cookies.get(device_cookie_name(request)))
        keys = keys_for(body.name, address, device)
    else:
        keys = keys_for(None, address, None)
    limiter = login_limiter(svc)
    limiter.check(keys)
    person: Person | None
    if body.token is not None:
        cred = svc.db.credential_for_token(body.token.strip())
        person, scopes = (cred.person, cred.scopes) if cred else (None, frozenset(SCOPES))
        refusal = Unauthorized("This token is not valid (mistyped, expired or revoked).",
                               code="bad_token")
    else:
        person = svc.db.check_password(body.name or "", body.password or "")
        scopes = frozenset(SCOPES)
        refusal = Unauthorized("The name or password is not right.", code="bad_password")
    if person is None:
        limiter.failed(keys)
        raise refusal
    limiter.succeeded(keys)
    start_browser_session(request, response, svc, person, scopes)
    if body.token is None:  # this browser is now known to the account (see login_limits)
        response.set_cookie(device_cookie_name(request), devices.issue(body.name or ""),
                            httponly=True, samesite="lax", path="/", secure=is_https(request),
                            max_age=DEVICE_COOKIE_AGE)
    return SignedIn(id=person.id, name=person.name, is_admin=person.is_admin,
                    next=safe_next(body.next, origin_of(request)))


@router.post("/api/auth/logout", status_code=204, responses=error_responses(403))
async def logout(request: Request, response: Response, svc: ServicesDep) -> None:
    """End this browser's session on the server (its cookie stops working at once)."""
    check_origin(request, required=True)
    session_id = request.cookies.get(cookie_name(request))
    if session_id:
        await asyncio.to_thread(svc.db.end_web_session, session_id)
        svc.sessions.close_viewers(credential_key(request))  # its open notebooks, too
    if is_https(request):
        response.delete_cookie(SECURE_COOKIE_NAME, path="/", secure=True, httponly=True,
                               samesite="lax")
    else:
        response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax")


def mount_frontend(app: FastAPI) -> None:
    """Serve the built web app; API routes keep priority."""
    index = STATIC / "index.html"
    if (STATIC / "assets").is_dir():
        app.mount("/assets", StaticFiles(directory=STATIC / "assets"), name="assets")
    headers = {"Cache-Control": "no-cache", "X-Frame-Options": "DENY",
               "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}

    def page(extra: dict[str, str] | None = None) -> FileResponse:
        if not index.exists():
            raise NotFound("The web app is not built. Reinstall Dikte (./run.sh builds it).",
                           code="no_web_app")
        return FileResponse(index, headers={**headers, **(extra or {})})

    @app.get("/", include_in_schema=False)
    async def root() -> FileResponse:
        return page()

    @app.get("/signin", include_in_schema=False, response_model=None)
    async def signin(request: Request, svc: ServicesDep,
                     next_path: Annotated[str | None, Query(alias="next")] = None,
                     ) -> FileResponse | RedirectResponse:
        """The sign-in page; someone signed in already goes straight to ``next``."""
        session_id = request.cookies.get(cookie_name(request))
        if session_id and await asyncio.to_thread(svc.db.credential_for_session,
                                                  session_id) is not None:
            return RedirectResponse(safe_next(next_path, origin_of(request)), status_code=303,
                                    headers={"Cache-Control": "no-store"})
        return page()

    @app.get("/invite", include_in_schema=False)
    async def invite() -> FileResponse:
        """The page that accepts an invitation; its code stays in the fragment."""
        return page({"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
