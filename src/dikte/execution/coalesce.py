"""Output deltas waiting to be sent to viewers, merged so that a fast cell sends few messages.

Pure: no clock, no I/O. The notebook adds every `OutputChange` a recorder returns and, a short
window later (or before any other message to its viewers), takes the merged list. A viewer that
applies the merged changes ends with exactly what it would have with every one of them, so the
stored outputs and the viewers' copies stay equal; nothing is dropped, only merged.

Merging rests on one fact: within a cell, indexes only move on ``clear``. So a change to output
*i* merges into the latest pending change to *i* even when changes to other outputs came in
between (they commute); ``clear`` makes everything pending for the cell moot. A cell printing
100,000 lines between two flushes therefore sends one ``text_tail``.
"""

from __future__ import annotations

from dikte.execution.outputs import OutputChange


class _Pending:
    """One merged change. Stream text is kept as parts, so appending is not quadratic."""

    __slots__ = ("index", "keep", "kind", "length", "output", "parts")

    def __init__(self, change: OutputChange, kind: str | None = None) -> None:
        self.kind = kind or change.kind
        self.index = change.index
        self.output = change.output
        self.keep = change.keep
        self.parts: list[str] | None = None
        if change.kind == "text_tail":
            self.parts = [change.text]
        elif change.output is not None and isinstance(change.output.get("text"), str):
            self.parts = [change.output["text"]]
        self.length = sum(map(len, self.parts)) if self.parts is not None else 0

    def tail(self, keep: int, text: str) -> bool:
        """Fold in a later ``text_tail`` on the same output; False if this one cannot take it."""
        if self.parts is None:
            return False
        start = self.keep if self.kind == "text_tail" else 0  # where this change's text begins
        if keep < start:  # the later change rewrites from further back: it alone is needed
            self.keep, self.parts, self.length = keep, [text], len(text)
            return True
        cut = keep - start
        if cut < self.length:
            joined = "".join(self.parts)[:cut]
            self.parts, self.length = [joined], cut
        self.parts.append(text)
        self.length += len(text)
        return True

    def change(self, cell_id: str) -> OutputChange:
        text = "".join(self.parts) if self.parts is not None else ""
        if self.kind == "text_tail":
            return OutputChange(cell_id, "text_tail", self.index, keep=self.keep, text=text)
        output = self.output
        if output is not None and self.parts is not None:
            output = {**output, "text": text}
        return OutputChange(cell_id, self.kind, self.index, output)


class _Cell:
    def __init__(self) -> None:
        self.changes: list[_Pending] = []
        self.latest: dict[int, int] = {}  # output index -> where its latest pending change is

    def add(self, change: OutputChange) -> bool:
        """Add one change; True if it was merged into one already here."""
        if change.kind == "clear":
            merged = bool(self.changes)
            self.changes, self.latest = [_Pending(change)], {}
            return merged
        at = self.latest.get(change.index)
        if at is not None:
            last = self.changes[at]
            if change.kind == "text_tail" and last.tail(change.keep, change.text):
                return True
            if change.kind == "replace":
                # a whole new output: what was pending for it is moot; an append stays one
                self.changes[at] = _Pending(change, "append" if last.kind == "append"
                                            else "replace")
                return True
        self.latest[change.index] = len(self.changes)
        self.changes.append(_Pending(change))
        return False


class PendingOutputs:
    """The output changes of all cells not yet sent, merged per cell and output."""

    def __init__(self) -> None:
        self._cells: dict[str, _Cell] = {}
        self.merged = 0
        """How many added changes were folded into others (for tests and logs)."""

    def __bool__(self) -> bool:
        return bool(self._cells)

    def add(self, change: OutputChange) -> None:
        cell = self._cells.setdefault(change.cell_id, _Cell())
        self.merged += cell.add(change)

    def take(self) -> list[OutputChange]:
        """The merged changes, in order per cell (cells in the order they first changed)."""
        cells, self._cells = self._cells, {}
        return [p.change(cid) for cid, cell in cells.items() for p in cell.changes]
