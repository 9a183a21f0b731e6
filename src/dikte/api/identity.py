"""The seam for an external login provider (OIDC, SAML, a company's SSO). None is built yet.

A provider adds two routes (redirect out, callback in) and implements this protocol; the callback
then calls ``Database.login_external(issuer, subject, name)`` for the person and starts a web
session exactly as a password sign-in does (``Database.start_web_session`` and the cookie set in
``dikte.api.web.login``). Everything after sign-in (sessions, scopes, CSRF, disabling) is shared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ExternalIdentity:
    issuer: str  # e.g. https://accounts.example.com
    subject: str  # the provider's stable id for the person (OIDC ``sub``), never the e-mail
    name: str  # a suggested Dikte name for someone new


class IdentityProvider(Protocol):
    """One external login provider."""

    name: str  # shown on the sign-in page: "Sign in with {name}"

    def authorization_url(self, state: str, redirect_uri: str) -> str:
        """Where to send the browser; ``state`` is random and checked at the callback."""
        ...

    async def identify(self, callback_params: dict[str, str], redirect_uri: str) -> ExternalIdentity:
        """Exchange the callback's code for a verified identity, or raise ``Unauthorized``."""
        ...
