"""Domain errors.

Each error carries a sentence for the person (``message``), a stable machine ``code``, the HTTP
``status`` the API answers with, and a separate ``log_message`` for the server log. The API turns
every :class:`DikteError` into the one JSON error shape (see ``dikte.api.errors``).
"""

from __future__ import annotations


class DikteError(Exception):
    """Base of every error a person may see."""

    code = "error"
    status = 500

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        log_message: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.log_message = log_message or message
        self.retry_after = retry_after


class BadRequest(DikteError):
    code = "bad_request"
    status = 400


class Unauthorized(DikteError):
    code = "unauthorized"
    status = 401


class Forbidden(DikteError):
    code = "forbidden"
    status = 403


class NotFound(DikteError):
    code = "not_found"
    status = 404


class Conflict(DikteError):
    code = "conflict"
    status = 409


class PayloadTooLarge(DikteError):
    code = "too_large"
    status = 413


class InvalidNotebook(DikteError):
    code = "invalid_notebook"
    status = 422


class QuotaExceeded(DikteError):
    code = "quota_exceeded"
    status = 429


class InsufficientStorage(DikteError):
    code = "insufficient_storage"
    status = 507


class RuntimeUnavailable(DikteError):
    code = "runtime_unavailable"
    status = 503


class SandboxUnavailable(DikteError):
    """The host cannot build the runtime sandbox (see ``dikte doctor``)."""

    code = "sandbox_unavailable"
    status = 503
