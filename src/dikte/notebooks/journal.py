"""The edit journal of an open notebook: edits are on disk before anyone is told of them.

A notebook is saved to the drive a moment after an edit (a whole-file atomic write); in between,
the edit lives only in memory. So each batch of edits is first appended to a small journal file
and flushed to disk (``fdatasync``), and only then echoed to the viewers, which is what tells the
editor it was kept. A save of a snapshot that includes an edit drops it from the journal. A
control plane killed in between finds the journal at its next start and replays it onto the
notebook (:func:`replay`), so an acknowledged edit is never lost.

Journal lines are JSON: ``{"path": ..., "ops": [...]}`` with the ops as they were broadcast (new
cells with their ids), so a replay gives the same cells the viewers saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

log = logging.getLogger(__name__)


def journal_path(root: Path, person_id: int, path: str) -> Path:
    """Where the journal of one person's notebook is kept (under the server's data dir)."""
    return root / str(person_id) / (hashlib.sha256(path.encode()).hexdigest()[:32] + ".jsonl")


class EditJournal:
    """Appends batches of edits and flushes them to disk in the background, a group at a time;
    :meth:`durable` resolves once a batch is on disk (in the journal, or in a saved snapshot)."""

    def __init__(self, file: Path, path: str) -> None:
        self.file = file
        self.path = path
        self.seq = 0
        """The number of the last batch appended."""
        self.flushed = 0
        """Every batch up to this one is on disk."""
        self.tried = 0
        """Every batch up to this one was written, or failed to be."""
        self.failed: str | None = None
        """Why the last write failed (a full disk), until one succeeds."""
        self._pending: list[tuple[int, bytes]] = []
        self._kept: list[tuple[int, bytes]] = []
        """Batches in the journal (or failed to be) and not yet in a saved snapshot."""
        self._saved_upto = 0
        self._lock = asyncio.Lock()
        self._writer: asyncio.Task[None] | None = None
        self._changed = asyncio.Condition()

    def append(self, ops: list[dict[str, Any]]) -> int:
        self.seq += 1
        line = json.dumps({"path": self.path, "ops": ops}, ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8", "surrogatepass") + b"\n"
        self._pending.append((self.seq, line))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._flush_loop())
        return self.seq

    async def durable(self, seq: int) -> bool:
        """Wait until batch ``seq`` is on disk; False when writing it failed."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.tried >= seq)
        return self.flushed >= seq

    async def _flush_loop(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            async with self._lock:
                batch = [(s, line) for s, line in batch if s > self._saved_upto]
                if batch:
                    try:
                        await asyncio.to_thread(self._write, b"".join(ln for _, ln in batch))
                    except OSError as exc:
                        log.warning("the edit journal of %s could not be written: %s",
                                    self.path, exc)
                        self.failed = exc.strerror or str(exc)
                        self._kept.extend(batch)  # written again with the next batch
                    else:
                        self.failed = None
                        self._kept.extend(batch)
                        self.flushed = max(self.flushed, batch[-1][0])
                    self.tried = max(self.tried, batch[-1][0])
            async with self._changed:
                self._changed.notify_all()

    def _write(self, data: bytes) -> None:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        if self.failed is not None:  # a failed write may have left half a line: all anew
            self._replace(b"".join(line for _, line in self._kept) + data)
            return
        fd = os.open(self.file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, data)
            os.fdatasync(fd)
        finally:
            os.close(fd)

    def _replace(self, data: bytes) -> None:
        tmp = self.file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, data)
            os.fdatasync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.file)

    async def saved(self, upto: int) -> None:
        """A snapshot that includes every batch up to ``upto`` is on the drive: they are
        durable, and the journal forgets them."""
        async with self._lock:
            self._saved_upto = max(self._saved_upto, upto)
            self._kept = [(s, line) for s, line in self._kept if s > upto]
            rest = b"".join(line for _, line in self._kept)
            try:
                if rest:
                    await asyncio.to_thread(self._replace, rest)
                    self.flushed = max(self.flushed, self._kept[-1][0])
                else:
                    with contextlib.suppress(FileNotFoundError):
                        await asyncio.to_thread(os.unlink, self.file)
                self.failed = None
            except OSError as exc:  # the longer journal stays; it is trimmed with the next save
                log.warning("trimming the edit journal of %s failed: %s", self.path, exc)
            self.flushed = max(self.flushed, upto)
            self.tried = max(self.tried, upto)
        async with self._changed:
            self._changed.notify_all()

    def moved(self, file: Path, path: str) -> None:
        """The notebook was renamed: its journal follows it."""
        with contextlib.suppress(FileNotFoundError):
            file.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.file, file)
        self.file, self.path = file, path

    def discard(self) -> None:
        """The notebook was deleted."""
        self._pending.clear()
        self._kept.clear()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.file)


def read(file: Path) -> tuple[str | None, list[list[dict[str, Any]]]]:
    """The notebook path and the batches of a journal; a torn last line (a crash while it was
    written, so never acknowledged) is left out."""
    path, batches = None, []
    for raw in file.read_bytes().split(b"\n"):
        if not raw:
            continue
        try:
            entry = json.loads(raw.decode("utf-8", "surrogatepass"))
            path, ops = str(entry["path"]), list(entry["ops"])
        except (ValueError, KeyError, TypeError):
            continue
        batches.append(ops)
    return path, batches


def replay(doc: NotebookNode, batches: list[list[dict[str, Any]]]) -> int:
    """Apply journaled batches to a notebook read from the drive; ops that no longer fit (their
    cell is gone) are skipped. Returns how many ops were applied."""
    applied = 0
    for ops in batches:
        for op in ops:
            try:
                if _replay_op(doc, op):
                    applied += 1
            except (KeyError, TypeError, ValueError, IndexError):
                log.warning("journaled edit %r does not fit the notebook; skipped",
                            op.get("op"))
    return applied


def _index(doc: NotebookNode, cell_id: Any) -> int | None:
    for i, cell in enumerate(doc.cells):
        if cell.get("id") == cell_id:
            return i
    return None


def _replay_op(doc: NotebookNode, op: dict[str, Any]) -> bool:
    kind = op["op"]
    if kind == "insert":
        cell = nbformat.from_dict(copy.deepcopy(op["cell"]))  # type: ignore[no-untyped-call]
        if _index(doc, cell.get("id")) is not None:
            return False  # already saved with the notebook
        doc.cells.insert(max(0, min(int(op["index"]), len(doc.cells))), cell)
        return True
    i = _index(doc, op["cell_id"])
    if i is None:
        return False
    if kind == "delete":
        del doc.cells[i]
    elif kind == "move":
        doc.cells.insert(max(0, min(int(op["index"]), len(doc.cells) - 1)), doc.cells.pop(i))
    elif kind == "set_source":
        doc.cells[i]["source"] = str(op["source"])
    elif kind == "set_type":
        doc.cells[i] = nbformat.from_dict(copy.deepcopy(op["cell"]))  # type: ignore[no-untyped-call]
    elif kind == "set_metadata":
        meta = dict(doc.cells[i].get("metadata", {}))
        for key, value in dict(op["metadata"]).items():
            if value is None:
                meta.pop(key, None)
            else:
                meta[key] = value
        doc.cells[i]["metadata"] = nbformat.from_dict(meta)  # type: ignore[no-untyped-call]
    elif kind == "clear_outputs":
        if doc.cells[i].get("cell_type") == "code":
            doc.cells[i]["outputs"] = []
            doc.cells[i]["execution_count"] = None
    else:
        return False
    return True
