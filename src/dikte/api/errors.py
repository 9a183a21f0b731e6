"""The one JSON error shape, produced in one place for every error path."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from dikte.db.full import is_storage_full
from dikte.errors import DikteError
from dikte.schemas.rest import ErrorResponse

log = logging.getLogger(__name__)

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized",
               403: "forbidden", 413: "too_large"}


_DESCRIPTIONS = {
    400: "Bad request: the body is not JSON, or a value is not allowed (see error.code).",
    401: "Not signed in: no credential, or one that is not valid.",
    403: "Forbidden: not allowed for this person or token, or a cross-site request.",
    404: "There is no such thing (file, notebook, session, upload...).",
    409: "Conflicts with the current state (e.g. no runtime connected).",
    413: "Too large.",
    422: "The request does not match its schema, or the notebook is not valid.",
    429: "A limit is reached (quota, rate); Retry-After says when to try again, if it can.",
    503: "No runtime can be started now.",
    507: "The drive is full (drive_full), or the server's disk is (disk_full); nothing was "
         "changed.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting these error statuses with the one error shape.

    Documenting 422 here also replaces FastAPI's default ``HTTPValidationError``, which is not
    what this API sends."""
    return {s: {"model": ErrorResponse, "description": _DESCRIPTIONS[s]} for s in statuses}


# What any authenticated route may answer; routers add the statuses particular to them.
COMMON_ERRORS = (400, 401, 403, 404, 409, 422)


def error_response(status: int, code: str, message: str,
                   retry_after: int | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    return JSONResponse({"error": {"code": code, "message": message, "status": status}},
                        status_code=status, headers=headers)


async def _dikte_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DikteError)
    if exc.status >= 500:
        log.warning("%s: %s", exc.code, exc.log_message)
    return error_response(exc.status, exc.code, exc.message, exc.retry_after)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where}: {err.get('msg')}")
    return error_response(422, "invalid_request",
                          "The request is not valid: " + "; ".join(parts) + ".")


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = {404: "There is nothing at this address.",
               405: "This address does not accept that method."}.get(exc.status_code,
                                                                       str(exc.detail))
    return error_response(exc.status_code, _HTTP_CODES.get(exc.status_code, "http_error"),
                          message)


SERVER_DISK_FULL = ("The server's disk is full, so this change was not made. Delete some files "
                    "from your drive to make room, or ask your administrator to free space on "
                    "the server; reading keeps working meanwhile.")


def storage_full_response(exc: BaseException) -> JSONResponse | None:
    """507 for a write that failed because the server's disk (or its database) is full."""
    if not is_storage_full(exc):
        return None
    log.warning("disk full: %s", exc)
    return error_response(507, "disk_full", SERVER_DISK_FULL)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    full = storage_full_response(exc)
    if full is not None:
        return full
    log.error("unexpected error", exc_info=exc)
    return error_response(500, "internal_error",
                          "Something went wrong on the server; it has been logged. Try again.")


async def _too_deep(_request: Request, exc: Exception) -> JSONResponse:
    log.info("refused a request nested too deeply: %s", exc)
    return error_response(400, "too_deep", "The request is nested too deeply (lists or objects "
                          "inside one another hundreds of levels deep); send a flatter one.")


async def _not_text(_request: Request, exc: Exception) -> JSONResponse:
    log.info("refused text that is not valid Unicode: %r", exc)
    return error_response(400, "bad_text", "The request holds text that is not valid Unicode (an "
                          "unpaired surrogate such as \\udc80); send valid Unicode.")


def install(app: FastAPI) -> None:
    app.add_exception_handler(DikteError, _dikte_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # handled here, not only as any Exception, so that a full disk is an answer, not a crash log
    app.add_exception_handler(OSError, _unexpected)
    app.add_exception_handler(DBAPIError, _unexpected)
    # hostile input that got past the checks at the edges must still answer 4xx, not 500
    app.add_exception_handler(RecursionError, _too_deep)
    app.add_exception_handler(UnicodeEncodeError, _not_text)
    app.add_exception_handler(Exception, _unexpected)
