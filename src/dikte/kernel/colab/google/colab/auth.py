"""``google.colab.auth``: not offered, because Dikte has no Google sign-in."""

from __future__ import annotations

from dikte.kernel.errors import not_offered

__all__ = ["authenticate_service_account", "authenticate_user"]

ADVICE = ("use a service-account key kept in your secrets (google.colab.userdata) with the "
          "Google client library instead")

authenticate_user = not_offered(
    "authenticate_user",
    f"google.colab.auth.authenticate_user() is not offered: Dikte has no Google sign-in, so "
    f"{ADVICE}.")
authenticate_service_account = not_offered(
    "authenticate_service_account",
    f"google.colab.auth.authenticate_service_account() is not offered: Dikte has no Google "
    f"credentials service, so {ADVICE}.")
