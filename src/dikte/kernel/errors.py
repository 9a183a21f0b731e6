"""The error a Colab feature that Dikte does not offer raises.

Its message is one sentence that names the feature and says what to do instead. In a runtime,
Dikte's IPython extension shows that sentence alone, without a traceback (see
``dikte.kernel.extension``); the class derives from NotImplementedError, so code that already
guards such calls with ``except NotImplementedError`` keeps working.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn


class NotOffered(NotImplementedError):
    """A Colab feature Dikte does not offer; ``str(error)`` says what to do instead."""


def not_offered(name: str, sentence: str) -> Callable[..., NoReturn]:
    """A stand-in for the Colab function ``name`` that raises ``NotOffered(sentence)``."""

    def stand_in(*args: Any, **kwargs: Any) -> NoReturn:
        raise NotOffered(sentence)

    stand_in.__name__ = stand_in.__qualname__ = name.rsplit(".", 1)[-1]
    stand_in.__doc__ = f"Not offered by Dikte: {sentence}"
    return stand_in


def not_offered_class(name: str, sentence: str) -> type:
    """A stand-in for the Colab class ``name`` whose construction raises ``NotOffered``."""

    def init(self: object, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotOffered(sentence)

    short = name.rsplit(".", 1)[-1]
    return type(short, (), {"__init__": init, "__doc__": f"Not offered by Dikte: {sentence}"})
