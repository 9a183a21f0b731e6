"""The web app: sign-in (a server-side session in a cookie) and the built front end."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from dikte.api.deps import (
    COOKIE_NAME,
    SECURE_COOKIE_NAME,
    ServicesDep,
    check_origin,
    cookie_name,
    is_https,
)
from dikte.api.errors import error_responses
from dikte.db import SCOPES, Person
from dikte.errors import BadRequest, NotFound, Unauthorized
from dikte.schemas.rest import ErrorResponse, LoginBody, Me

STATIC = Path(__file__).resolve().parents[1] / "static"
SESSION_LIFETIME = 30 * 24 * 3600  # seconds a web sign-in lasts
router = APIRouter(tags=["auth"])


@router.post("/api/auth/login", response_model=Me, responses={
    **error_responses(400, 401, 403, 422),
    429: {"model": ErrorResponse, "description": "Too many failed sign-ins; see Retry-After."}})
async def login(body: LoginBody, request: Request, response: Response,
                svc: ServicesDep) -> Me:
    """Sign in with name and password (or a token): starts a server-side session whose id goes
    into an HttpOnly, SameSite=Lax cookie (``__Host-dikte_session`` over HTTPS)."""
    check_origin(request, required=True)
    address = request.client.host if request.client else "unknown"
    keys = [f"addr:{address}"]
    if body.token is None:
        if not body.name or body.password is None:
            raise BadRequest("Give your name and password (or an access token).",
                             code="bad_login")
        keys.append(f"name:{body.name.lower()}")
    svc.logins.check(keys)
    person: Person | None
    if body.token is not None:
        cred = svc.db.credential_for_token(body.token.strip())
        person, scopes = (cred.person, cred.scopes) if cred else (None, frozenset(SCOPES))
        refusal = Unauthorized("This token is not valid (mistyped, expired or revoked).",
                               code="bad_token")
    else:
        # argon2 takes tens of milliseconds of CPU: keep the event loop free meanwhile
        person = await asyncio.to_thread(svc.db.check_password, body.name or "",
                                         body.password or "")
        scopes = frozenset(SCOPES)
        refusal = Unauthorized("The name or password is not right.", code="bad_password")
    if person is None:
        svc.logins.failed(keys)
        raise refusal
    svc.logins.succeeded(keys)
    session_id = svc.db.start_web_session(person.id, SESSION_LIFETIME, scopes)
    response.set_cookie(cookie_name(request), session_id, httponly=True, samesite="lax",
                        path="/", secure=is_https(request), max_age=SESSION_LIFETIME)
    return Me(id=person.id, name=person.name, is_admin=person.is_admin)


@router.post("/api/auth/logout", status_code=204, responses=error_responses(403))
async def logout(request: Request, response: Response, svc: ServicesDep) -> None:
    """End this browser's session on the server (its cookie stops working at once)."""
    check_origin(request, required=True)
    session_id = request.cookies.get(cookie_name(request))
    if session_id:
        svc.db.end_web_session(session_id)
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

    @app.get("/", include_in_schema=False)
    async def root() -> FileResponse:
        if not index.exists():
            raise NotFound("The web app is not built. Reinstall Dikte (./run.sh builds it).",
                           code="no_web_app")
        return FileResponse(index, headers={
            "Cache-Control": "no-cache", "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"})
