"""Namespace packages that gain a folder after their first import.

``google`` is a namespace package. A runtime imports it early (``google.colab``), when the
package layer has no ``google`` folder yet; ``pip install google-generativeai`` then creates
one, but Python (3.11 and older) computes a namespace package's folders only when ``sys.path``
changes, so ``import google.generativeai`` would fail until a restart. This finder, last on
``sys.meta_path``, is asked only when the usual ones found nothing: it adds the folders that
appeared since, and looks again.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec, PathFinder
from types import ModuleType
from typing import Any


class StaleNamespaceFinder:
    """A meta path finder for submodules of namespace packages whose folders grew."""

    @classmethod
    def find_spec(cls, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        parent_name, _, _ = fullname.rpartition(".")
        parent = sys.modules.get(parent_name) if parent_name else None
        folders: Any = getattr(parent, "__path__", None)
        if folders is None or type(folders).__name__ != "_NamespacePath":
            return None
        grand_name, _, leaf = parent_name.rpartition(".")
        above = sys.path if not grand_name else getattr(sys.modules.get(grand_name), "__path__",
                                                        [])
        known = set(folders)
        missing = [d for d in (os.path.join(p or os.getcwd(), leaf) for p in above)
                   if d not in known and os.path.isdir(d)
                   and not os.path.exists(os.path.join(d, "__init__.py"))]
        if not missing:
            return None
        for d in missing:
            folders.append(d)
        return PathFinder.find_spec(fullname, list(folders), target)


def install() -> None:
    if StaleNamespaceFinder not in sys.meta_path:
        sys.meta_path.append(StaleNamespaceFinder)
