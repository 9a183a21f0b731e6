"""``google.colab.errors``: the exception classes notebooks catch."""

from __future__ import annotations

__all__ = ["AuthorizationError", "Error", "RuntimeManagementError", "WidgetException"]


class Error(Exception):
    """Base class of google.colab's errors."""


class AuthorizationError(Error):
    """Authorization failed (Dikte has no Google sign-in, so it raises none itself)."""


class RuntimeManagementError(Error):
    """Managing the runtime failed, for example ``runtime.unassign()``."""


class WidgetException(Error):
    """A google.colab widget failed."""
