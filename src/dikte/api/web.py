"""The web app: sign-in cookies and the built front end at the root URL."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from dikte.api.deps import COOKIE_NAME, ServicesDep, check_origin
from dikte.errors import NotFound, Unauthorized
from dikte.schemas.rest import LoginBody, Me

STATIC = Path(__file__).resolve().parents[1] / "static"
router = APIRouter(tags=["auth"])


@router.post("/api/auth/login", response_model=Me)
async def login(body: LoginBody, request: Request, response: Response,
                svc: ServicesDep) -> Me:
    """Exchange a token for an HttpOnly session cookie (what the web app uses)."""
    check_origin(request, required=True)
    person = svc.db.person_for_token(body.token)
    if person is None:
        raise Unauthorized("This token is not valid (mistyped, or revoked).", code="bad_token")
    response.set_cookie(COOKIE_NAME, body.token, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https", max_age=30 * 24 * 3600)
    return Me(id=person.id, name=person.name, is_admin=person.is_admin)


@router.post("/api/auth/logout", status_code=204)
async def logout(request: Request, response: Response) -> None:
    check_origin(request, required=True)
    response.delete_cookie(COOKIE_NAME, path="/")


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
