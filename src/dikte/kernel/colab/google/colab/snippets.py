"""``google.colab.snippets``: not offered, because Dikte has no snippets panel."""

from __future__ import annotations

from dikte.kernel.errors import not_offered

__all__ = ["register"]

register = not_offered(
    "register",
    "google.colab.snippets.register() is not offered: Dikte has no snippets panel, so open the "
    "notebook that holds the snippets and copy the code you need.")
