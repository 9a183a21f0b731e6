"""``google.colab.data_table`` in a Dikte runtime: pandas' own table instead of Colab's
interactive one.

``DataTable(df)`` shows the frame as pandas does (HTML, with pandas' display options);
``enable_dataframe_formatter()``, ``disable_dataframe_formatter()`` and
``%load_ext google.colab.data_table`` are accepted and change nothing, so notebooks that use them
run unchanged.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DataTable", "disable_dataframe_formatter", "enable_dataframe_formatter"]


class DataTable:
    """A pandas DataFrame shown as pandas shows it; Colab's paging options are accepted."""

    def __init__(self, dataframe: Any, include_index: bool = True,
                 num_rows_per_page: int | None = None, max_rows: int | None = None,
                 max_columns: int | None = None, min_width: str | None = None) -> None:
        self.dataframe = dataframe
        self.include_index = include_index

    def _repr_html_(self) -> Any:
        if self.include_index:
            return getattr(self.dataframe, "_repr_html_", lambda: None)()
        import pandas as pd

        return self.dataframe.to_html(index=False, max_rows=pd.get_option("display.max_rows"),
                                      max_cols=pd.get_option("display.max_columns"))

    def __repr__(self) -> str:
        return repr(self.dataframe)


def enable_dataframe_formatter() -> None:
    """Accepted; DataFrames keep pandas' own display."""


def disable_dataframe_formatter() -> None:
    """Accepted; DataFrames keep pandas' own display."""


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext google.colab.data_table``: accepted, changes nothing."""


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext google.colab.data_table``: accepted."""
