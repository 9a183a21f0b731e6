"""``google.colab.ai``: not offered, because it uses Google's model service."""

from __future__ import annotations

from dikte.kernel.errors import not_offered

__all__ = ["generate_text", "list_models"]

SENTENCE = ("google.colab.ai is not offered: it uses Google's model service, which Dikte does "
            "not have, so call a model provider's own client library with an API key kept in "
            "your secrets (google.colab.userdata) instead.")

generate_text = not_offered("generate_text", SENTENCE)
list_models = not_offered("list_models", SENTENCE)
