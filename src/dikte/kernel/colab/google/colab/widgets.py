"""``google.colab.widgets``: not offered; ipywidgets does the same in Dikte."""

from __future__ import annotations

from dikte.kernel.errors import not_offered, not_offered_class

__all__ = ["Grid", "TabBar", "create_grid"]

SENTENCE = ("google.colab.widgets is not offered: it needs Colab's page, so use ipywidgets "
            "(Tab, GridBox, Output) instead, which Dikte runtimes show.")

TabBar = not_offered_class("TabBar", SENTENCE)
Grid = not_offered_class("Grid", SENTENCE)
create_grid = not_offered("create_grid", SENTENCE)
