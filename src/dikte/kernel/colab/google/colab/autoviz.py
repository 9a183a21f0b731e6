"""``google.colab.autoviz``: not offered; plot with pandas or matplotlib."""

from __future__ import annotations

from dikte.kernel.errors import not_offered

__all__ = ["quickchart"]

quickchart = not_offered(
    "quickchart",
    "google.colab.autoviz.quickchart() is not offered: Dikte has no chart suggestions, so plot "
    "with pandas or matplotlib (df.plot()) instead.")
