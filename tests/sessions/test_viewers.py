"""A viewer that falls behind (a slow browser) is resynchronised, not buffered forever (issue 11,
item 13): the server's memory for one viewer stays bounded however fast a cell prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat

from dikte.api.ws import _send_loop
from dikte.drive import Drive
from dikte.execution.outputs import OutputLimits
from dikte.sessions.notebook import OpenNotebook


class SlowSocket:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed = False

    async def send_text(self, text: str) -> None:
        self.sent.append(text)

    async def close(self) -> None:
        self.closed = True


def _notebook(tmp_path: Path) -> OpenNotebook:
    doc = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    doc.cells = [nbformat.v4.new_code_cell("print(1)")]  # type: ignore[no-untyped-call]
    return OpenNotebook(person_id=1, path="a.ipynb", drive=Drive(tmp_path / "d"), doc=doc,
                        limits=OutputLimits(), save_interval=2.0, autosave=False)


async def test_a_viewer_that_falls_behind_gets_a_fresh_snapshot_instead_of_the_backlog(
        tmp_path: Path) -> None:
    nb = _notebook(tmp_path)
    viewer = nb.join()
    viewer.max_messages = 50
    for i in range(10_000):  # nobody reads meanwhile: a browser that stopped reading
        nb.broadcast({"type": "output", "cell_id": "c", "change": {"kind": "text_tail",
                                                                   "text": f"tick {i}\n"}})
    assert viewer.queue.qsize() <= 51
    nb.doc.cells[0]["source"] = "print(2)"  # a change the dropped deltas would have carried
    nb.notice("after")
    viewer.close()
    sock = SlowSocket()
    await _send_loop(sock, viewer, nb)  # type: ignore[arg-type]
    sent: list[dict[str, Any]] = [json.loads(t) for t in sock.sent]
    kinds = [m["type"] for m in sent]
    assert kinds[-2:] == ["snapshot", "notice"]  # the backlog replaced by the current document
    assert "notice" not in kinds[:-1]  # a notice (not in the document) is kept, sent after it
    assert sent[-2]["notebook"]["cells"][0]["source"] == "print(2)"
    assert sent[-1]["message"] == "after"
    assert len(sent) <= 52 and sock.closed
