"""``google.colab.sheets``: not offered, because Google Sheets need Google sign-in."""

from __future__ import annotations

from dikte.kernel.errors import not_offered, not_offered_class

__all__ = ["InteractiveSheet", "get_spreadsheet"]

SENTENCE = ("google.colab.sheets is not offered: Google Sheets need Google sign-in, which Dikte "
            "does not have, so download the sheet as CSV into your drive and read it with "
            "pandas instead.")

InteractiveSheet = not_offered_class("InteractiveSheet", SENTENCE)
get_spreadsheet = not_offered("get_spreadsheet", SENTENCE)
