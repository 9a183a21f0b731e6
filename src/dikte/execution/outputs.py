"""Jupyter iopub messages -> nbformat v4 outputs on one cell, and small deltas for live viewers.

Pure: no I/O, no clock, no asyncio. `OutputRecorder.apply` mutates the cell's outputs list in place
and returns the `OutputChange`s a viewer needs to stay in step (a viewer that applies them in order
to its own copy ends with exactly the stored outputs). An output dict, once in the list, is never
changed in place: new text or display data replaces it with a new dict, so a copy of the list (a
snapshot for a viewer or for the drive, see dikte.notebooks.snapshot) stays as it was.

Stream text is kept the way a terminal (and Jupyter) shows it: consecutive chunks of one stream
coalesce, a bare ``\\r`` makes the next text replace the current line, ``\\r\\n`` is a newline even
when split across two messages, ``\\b`` deletes the previous character and ``ESC[nA`` (multi-bar
tqdm) moves the cursor up n lines. Other ANSI codes stay in the text.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any

_CONTROL = re.compile(r"(\n|\r|\x08|\x1b\[\d*A)")  # captured, so re.split keeps them
_CRLF = re.compile(r"\r+\n")
# A chunk's end that the next chunk decides: "\r" (maybe "\r\n") or a partial ESC sequence.
_UNDECIDED_TAIL = re.compile(r"\r*(?:\x1b(?:\[\d*)?)?\Z")
_MAYBE_HELD = frozenset("\r\x1b[0123456789")


@dataclass(frozen=True)
class OutputLimits:
    max_lines: int = 10_000
    max_bytes: int = 5_000_000


@dataclass(frozen=True)
class OutputChange:
    """One delta for viewers; `output` is a snapshot, never the stored dict itself."""

    cell_id: str
    kind: str  # "append" | "replace" | "clear" | "text_tail"
    index: int = 0
    output: dict[str, Any] | None = None
    keep: int = 0  # text_tail: outputs[index]["text"] = text[:keep] + self.text
    text: str = ""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"cell_id": self.cell_id, "kind": self.kind}
        if self.kind in ("append", "replace"):
            d.update(index=self.index, output=self.output)
        elif self.kind == "text_tail":
            d.update(index=self.index, keep=self.keep, text=self.text)
        return d


@dataclass(frozen=True, eq=False)
class _Target:
    cell_id: str
    outputs: list[dict[str, Any]]
    output: dict[str, Any]


class DisplayRegistry:
    """Notebook-wide map display_id -> the outputs carrying it (possibly in several cells)."""

    def __init__(self) -> None:
        self._targets: dict[str, list[_Target]] = {}

    def register(
        self, display_id: str, cell_id: str, outputs: list[dict[str, Any]], output: dict[str, Any]
    ) -> None:
        self._targets.setdefault(display_id, []).append(_Target(cell_id, outputs, output))

    def update(
        self, display_id: str, data: dict[str, Any], metadata: dict[str, Any]
    ) -> list[OutputChange]:
        """Replace data/metadata of every output registered under `display_id`."""
        changes: list[OutputChange] = []
        alive: list[_Target] = []
        for t in self._targets.get(display_id, []):
            index = next((i for i, o in enumerate(t.outputs) if o is t.output), None)
            if index is None:  # removed from its cell behind our back
                continue
            # a new dict in its place, never a change in place (snapshots share the old one)
            new = {**t.output, "data": copy.deepcopy(data), "metadata": copy.deepcopy(metadata)}
            t.outputs[index] = new
            alive.append(_Target(t.cell_id, t.outputs, new))
            changes.append(OutputChange(t.cell_id, "replace", index, copy.deepcopy(new)))
        if alive:
            self._targets[display_id] = alive
        else:
            self._targets.pop(display_id, None)
        return changes

    def forget_cell(self, cell_id: str) -> None:
        """Call when a cell's outputs are cleared or the cell is deleted."""
        for display_id in list(self._targets):
            kept = [t for t in self._targets[display_id] if t.cell_id != cell_id]
            if kept:
                self._targets[display_id] = kept
            else:
                del self._targets[display_id]


@dataclass
class _Stream:
    """Terminal state of the stream output being written (the cell's last output)."""

    name: str
    index: int | None = None  # None until the first visible text creates the output
    up: int = 0  # cursor row, counted up from the last line
    col: int = 0
    erase: bool = False  # after "\r" / ESC[A: the next text replaces the rest of the line
    held: str = ""  # undecided end of the previous chunk


def _lines_up(text: str, start: int, n: int) -> tuple[int, int]:
    """From line start `start`, go up at most n lines; return (new line start, lines moved)."""
    moved = 0
    while moved < n and start > 0:
        start = text.rfind("\n", 0, start - 1) + 1
        moved += 1
    return start, moved


def _render(text: str, st: _Stream, chunk: str) -> tuple[str, int]:
    """Write `chunk` at the cursor; return (new text, length of the unchanged prefix).

    Only the lines from the cursor down are split and rebuilt, so the work per chunk is the
    chunk plus one copy of the text.
    """
    base, _ = _lines_up(text, text.rfind("\n") + 1, st.up)
    rows = text[base:].split("\n")
    r, c, erase = 0, st.col, st.erase
    lo: tuple[int, int] | None = None  # earliest (row, col) modified
    for i, tok in enumerate(_CONTROL.split(chunk)):
        if not tok:
            continue
        if i % 2 == 0:  # plain text
            row = rows[r]
            lo = min(lo, (r, c)) if lo else (r, c)
            rows[r] = row[:c] + tok if erase else row[:c] + tok + row[c + len(tok) :]
            c, erase = c + len(tok), False
        elif tok == "\n":
            if r == len(rows) - 1:
                lo = min(lo, (r, len(rows[r]))) if lo else (r, len(rows[r]))
                rows.append("")
            r, c, erase = r + 1, 0, False
        elif tok == "\r":
            c, erase = 0, True
        elif tok == "\x08":
            if c > 0:
                lo = min(lo, (r, c - 1)) if lo else (r, c - 1)
                rows[r] = rows[r][: c - 1] + rows[r][c:]
                c -= 1
        else:  # ESC[nA: cursor up n lines, to the line start; the next text replaces the line
            n = max(int(tok[2:-1] or 1), 1)
            if n > r:
                new_base, moved = _lines_up(text, base, n - r)
                if moved:
                    rows[:0] = text[new_base : base - 1].split("\n")
                    r += moved
                    lo = (lo[0] + moved, lo[1]) if lo else None
                    base = new_base
            r, c, erase = max(r - n, 0), 0, True
    st.up, st.col, st.erase = len(rows) - 1 - r, c, erase
    if lo is None:
        return text, len(text)
    keep = base + sum(len(rows[i]) + 1 for i in range(lo[0])) + lo[1]
    return text[:base] + "\n".join(rows), keep


def _measure(text: str) -> tuple[int, int]:
    """(lines, bytes) of stream text."""
    return text.count("\n"), len(text.encode("utf-8", "surrogatepass"))


def _output_size(output: dict[str, Any]) -> tuple[int, int]:
    if output.get("output_type") == "stream":
        return _measure(str(output.get("text", "")))
    return 0, len(json.dumps(output, default=str))


def _as_text(value: Any) -> str:
    return "".join(map(str, value)) if isinstance(value, list) else str(value)


class OutputRecorder:
    """Applies one cell run's iopub messages, in order, to that cell's outputs list.

    The list is mutated in place; every call returns the changes to send to viewers.
    """

    def __init__(
        self,
        cell_id: str,
        outputs: list[dict[str, Any]],
        limits: OutputLimits,
        displays: DisplayRegistry,
    ) -> None:
        self._cell_id = cell_id
        self._outputs = outputs
        self._limits = limits
        self._displays = displays
        self._stream: _Stream | None = None
        self._clear_next = False
        self._truncated = False
        self._lines = self._bytes = 0
        for output in outputs:
            lines, size = _output_size(output)
            self._lines += lines
            self._bytes += size

    def apply(self, msg_type: str, content: dict[str, Any]) -> list[OutputChange]:
        if msg_type == "stream":
            name = str(content.get("name", "stdout"))
            return self._write(name, _as_text(content.get("text", "")))
        if msg_type in ("display_data", "execute_result"):
            return self._display(msg_type, content)
        if msg_type == "update_display_data":
            display_id = (content.get("transient") or {}).get("display_id")
            if not display_id:
                return []
            data, metadata = content.get("data") or {}, content.get("metadata") or {}
            return self._displays.update(str(display_id), data, metadata)
        if msg_type == "error":
            changes = self._before_output()
            output = {
                "output_type": "error",
                "ename": str(content.get("ename", "")),
                "evalue": str(content.get("evalue", "")),
                "traceback": [str(line) for line in content.get("traceback") or []],
            }
            self._bytes += _output_size(output)[1]
            return [*changes, self._append(output)]  # kept even after truncation
        if msg_type == "clear_output":
            if content.get("wait"):
                self._clear_next = True
                return []
            self._clear_next = False
            return self._clear()
        return []

    def note(self, text: str) -> list[OutputChange]:
        """Append a visible note on stderr, on a line of its own; limits do not apply to it."""
        return self._write("stderr", text, note=True)

    # -- internals -------------------------------------------------------------------------

    def _before_output(self) -> list[OutputChange]:
        """clear_output(wait=True) takes effect just before the next output arrives."""
        if not self._clear_next:
            return []
        self._clear_next = False
        return self._clear()

    def _clear(self) -> list[OutputChange]:
        self._stream = None
        self._lines = self._bytes = 0
        self._truncated = False
        self._displays.forget_cell(self._cell_id)
        if not self._outputs:
            return []
        self._outputs.clear()
        return [OutputChange(self._cell_id, "clear")]

    def _append(self, output: dict[str, Any]) -> OutputChange:
        self._stream = None
        self._outputs.append(output)
        return OutputChange(self._cell_id, "append", len(self._outputs) - 1, copy.deepcopy(output))

    def _stream_state(self, name: str) -> _Stream:
        st, outs = self._stream, self._outputs
        if st is not None and st.name == name:
            if st.index is None or st.index == len(outs) - 1:
                return st
        if outs and outs[-1].get("output_type") == "stream" and outs[-1].get("name") == name:
            text = str(outs[-1].get("text", ""))
            st = _Stream(name, len(outs) - 1, col=len(text) - text.rfind("\n") - 1)
        else:
            st = _Stream(name)
        self._stream = st
        return st

    def _write(self, name: str, text: str, *, note: bool = False) -> list[OutputChange]:
        changes = self._before_output()
        if self._truncated and not note:
            return changes
        st = self._stream_state(name)
        out = self._outputs[st.index] if st.index is not None else None
        old = str(out["text"]) if out is not None else ""
        if note:  # to the end of the text, on a fresh line
            st.up, st.erase, st.held = 0, False, ""
            st.col = len(old) - old.rfind("\n") - 1
            chunk = ("\n" if st.col else "") + text
        else:
            chunk = _CRLF.sub("\n", st.held + text)
            held = _UNDECIDED_TAIL.search(chunk[-32:]) if chunk[-1:] in _MAYBE_HELD else None
            st.held = held.group() if held else ""
            chunk = chunk[: len(chunk) - len(st.held)]
        new, keep = _render(old, st, chunk)
        suffix, replaced = new[keep:], old[keep:]
        if suffix == replaced:
            return changes
        old_lines, old_bytes = _measure(replaced)
        lines, size = _measure(suffix)
        hit = ""
        if not note:
            suffix, hit = self._fit(suffix, lines - old_lines, size - old_bytes)
            if hit:
                new = old[:keep] + suffix
                lines, size = _measure(suffix)
        self._lines += lines - old_lines
        self._bytes += size - old_bytes
        if out is None:
            if new:
                changes.append(self._append({"output_type": "stream", "name": name, "text": new}))
                st.index = len(self._outputs) - 1
                self._stream = st
        else:
            index = len(self._outputs) - 1
            self._outputs[index] = {**out, "text": new}  # a new dict: snapshots share the old
            changes.append(OutputChange(self._cell_id, "text_tail", index, keep=keep, text=suffix))
        if hit:
            changes += self._truncate(hit)
        return changes

    def _truncate(self, hit: str) -> list[OutputChange]:
        self._truncated = True
        limit = self._limits.max_lines if hit == "lines" else self._limits.max_bytes
        return self.note(
            f"[Output truncated: this cell printed more than {limit:,} {hit}; later output "
            "was not kept. Write large output to a file instead.]\n"
        )

    def _fit(self, suffix: str, more_lines: int, more_bytes: int) -> tuple[str, str]:
        """Cut a new stream suffix to the cell's limits; return (suffix, "" | "lines" | "bytes")."""
        lim = self._limits
        lines, size = _measure(suffix)
        room_lines = lim.max_lines - (self._lines + more_lines - lines)  # for the whole suffix
        room_bytes = lim.max_bytes - (self._bytes + more_bytes - size)
        hit = ""
        if self._lines + more_lines > lim.max_lines:
            pos = -1
            for _ in range(max(room_lines, 0)):
                pos = suffix.find("\n", pos + 1)
            suffix, hit = suffix[: pos + 1], "lines"
        raw = suffix.encode("utf-8", "surrogatepass")
        if len(raw) > room_bytes:
            cut = raw[: max(room_bytes, 0)].decode("utf-8", "ignore")
            suffix, hit = (cut[: cut.rfind("\n") + 1] if "\n" in cut else cut), hit or "bytes"
        return suffix, hit

    def _display(self, msg_type: str, content: dict[str, Any]) -> list[OutputChange]:
        changes = self._before_output()
        if self._truncated:
            return changes
        output: dict[str, Any] = {
            "output_type": msg_type,
            "data": copy.deepcopy(content.get("data") or {}),
            "metadata": copy.deepcopy(content.get("metadata") or {}),
        }
        if msg_type == "execute_result":
            output["execution_count"] = content.get("execution_count")
        size = _output_size(output)[1]
        if self._bytes + size > self._limits.max_bytes:
            return changes + self._truncate("bytes")
        self._bytes += size
        changes.append(self._append(output))
        display_id = (content.get("transient") or {}).get("display_id")
        if display_id:
            self._displays.register(str(display_id), self._cell_id, self._outputs, output)
        return changes
