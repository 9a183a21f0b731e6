"""Colab's ``google.colab`` API in a Dikte runtime (docs/colab-compatibility.md lists every call
and every difference from Colab). Standard library and IPython only; never imports the server.

It is on a runtime's path only (``/opt/dikte/colab``, ahead of the runtime's package layer, so a
``pip install google-colab`` does not shadow it), never in the server's environment. ``google``
is a namespace package: packages a notebook installs under ``google`` (``google.protobuf``,
``google.cloud``...) import beside it.

Submodules load when first used, so ``import google.colab`` is cheap and one that fails to import
does not break the others.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__version__ = "0.0.1a2"  # the version Colab's own package reports

SUBMODULES = ("ai", "auth", "autoviz", "data_table", "drive", "errors", "files", "output",
              "patches", "runtime", "sheets", "snippets", "syntax", "userdata", "widgets")
__all__ = ["auth", "autoviz", "data_table", "drive", "files", "output", "runtime", "snippets",
           "widgets"]


def __getattr__(name: str) -> ModuleType:
    if name in SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *SUBMODULES})
