"""``google.colab.widgets``: ``TabBar`` and ``Grid``, which route ordinary output (``print``,
plots, ``display``) into a tab or a grid cell, built on ipywidgets (``Tab``, ``GridBox`` and
``Output``), so they draw in Dikte's page, are kept in the saved notebook, and need no Colab.

    tb = widgets.TabBar(["data", "plot"])
    with tb.output_to("plot"):
        plt.plot(xs, ys)

    grid = widgets.Grid(2, 3)
    for row, col in grid:
        print(row, col)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

__all__ = ["Grid", "TabBar", "create_grid"]


def _ipywidgets() -> Any:
    try:
        import ipywidgets
    except ImportError:
        raise ImportError("google.colab.widgets draws with ipywidgets, which this runtime's "
                          "image lacks: install it with `%pip install ipywidgets`.") from None
    return ipywidgets


def _display(widget: Any) -> None:
    from IPython.display import display

    display(widget)  # type: ignore[no-untyped-call]


def _flush_plots() -> None:
    """Figures made inside ``output_to`` go there, not to the end of the cell (the inline
    backend shows them only after the cell otherwise)."""
    try:
        import matplotlib
        import matplotlib.pyplot as plt
    except ImportError:
        return
    if "inline" in matplotlib.get_backend() and plt.get_fignums():
        try:
            from matplotlib_inline.backend_inline import flush_figures
        except ImportError:
            return
        flush_figures()  # type: ignore[no-untyped-call]


@contextlib.contextmanager
def _into(output: Any) -> Iterator[None]:
    with output:
        try:
            yield
        finally:
            _flush_plots()


class TabBar:
    """Tabs whose contents come from ordinary output: ``with tb.output_to(name_or_index):``.
    ``location`` is accepted for Colab's sake (tabs show on top)."""

    def __init__(self, tab_names: Sequence[str], location: str = "top") -> None:
        w = _ipywidgets()
        if not tab_names:
            raise ValueError("A TabBar needs at least one tab name.")
        self.tab_names = [str(n) for n in tab_names]
        self.location = location
        self._outputs = [w.Output() for _ in self.tab_names]
        self._tab = w.Tab(children=self._outputs)
        self._tab.titles = tuple(self.tab_names)
        self._current: int | None = None
        _display(self._tab)

    def _index(self, tab: int | str) -> int:
        if isinstance(tab, int):
            if not 0 <= tab < len(self._outputs):
                raise IndexError(f"There is no tab {tab}; this TabBar has "
                                 f"{len(self._outputs)} (0 to {len(self._outputs) - 1}).")
            return tab
        try:
            return self.tab_names.index(str(tab))
        except ValueError:
            raise KeyError(f"There is no tab named {tab!r}; the tabs are "
                           f"{', '.join(self.tab_names)}.") from None

    @contextlib.contextmanager
    def output_to(self, tab: int | str, select: bool | None = None) -> Iterator[None]:
        """Output inside the block goes into ``tab``; ``select=True`` shows that tab."""
        index = self._index(tab)
        if select:
            self._tab.selected_index = index
        before, self._current = self._current, index
        try:
            with _into(self._outputs[index]):
                yield
        finally:
            self._current = before

    def clear_tab(self, tab: int | str | None = None) -> None:
        """Empty ``tab`` (by default the one being written to)."""
        index = self._current if tab is None else self._index(tab)
        if index is None:
            raise ValueError("clear_tab() needs a tab outside an output_to() block.")
        self._outputs[index].clear_output()


class Grid:
    """A grid of ``rows`` by ``columns`` cells filled by ordinary output:
    ``with grid.output_to(row, column):``, or ``for row, column in grid:`` (each pass writes
    into the next cell)."""

    def __init__(self, rows: int, columns: int, header_row: bool = False,
                 header_column: bool = False, style: str | None = None) -> None:
        w = _ipywidgets()
        if rows < 1 or columns < 1:
            raise ValueError("A Grid needs at least one row and one column.")
        self.rows, self.columns = rows, columns
        self._cells: list[list[Any]] = []
        for r in range(rows):
            row = []
            for c in range(columns):
                heading = (header_row and r == 0) or (header_column and c == 0)
                row.append(w.Output(layout=w.Layout(
                    border="1px solid #d8dee4", padding="4px",
                    min_height="1.5em", overflow="auto"),
                    **({"_dom_classes": ("colab-grid-heading",)} if heading else {})))
            self._cells.append(row)
        self._grid = w.GridBox(
            children=[cell for row in self._cells for cell in row],
            layout=w.Layout(grid_template_columns=f"repeat({columns}, auto)",
                            grid_gap="0px", width="auto"))
        self.style = style
        self._current: tuple[int, int] | None = None
        _display(self._grid)

    def _cell(self, row: int, column: int) -> Any:
        if not (0 <= row < self.rows and 0 <= column < self.columns):
            raise IndexError(f"There is no cell ({row}, {column}); this Grid has {self.rows} "
                             f"rows and {self.columns} columns, counted from 0.")
        return self._cells[row][column]

    @contextlib.contextmanager
    def output_to(self, row: int, column: int) -> Iterator[None]:
        cell = self._cell(row, column)
        before, self._current = self._current, (row, column)
        try:
            with _into(cell):
                yield
        finally:
            self._current = before

    def clear_cell(self, row: int | None = None, column: int | None = None) -> None:
        """Empty a cell (by default the one being written to)."""
        if row is None or column is None:
            if self._current is None:
                raise ValueError("clear_cell() needs a row and a column outside an "
                                 "output_to() block.")
            row, column = self._current
        self._cell(row, column).clear_output()

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for r in range(self.rows):
            for c in range(self.columns):
                with self.output_to(r, c):
                    yield r, c


def create_grid(rows: int, columns: int, **kwargs: Any) -> Grid:
    """Colab's older spelling of ``Grid(rows, columns)``."""
    return Grid(rows, columns, **kwargs)
