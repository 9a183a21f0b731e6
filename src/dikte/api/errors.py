"""The one JSON error shape, produced in one place for every error path."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dikte.errors import DikteError

log = logging.getLogger(__name__)

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized",
               403: "forbidden", 413: "too_large"}


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


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error", exc_info=exc)
    return error_response(500, "internal_error",
                          "Something went wrong on the server; it has been logged. Try again.")


def install(app: FastAPI) -> None:
    app.add_exception_handler(DikteError, _dikte_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
