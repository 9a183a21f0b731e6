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
from dikte.notebooks.notebook import OpenNotebook


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


async def test_gathered_output_goes_out_before_other_messages_and_never_twice(
        tmp_path: Path) -> None:
    """Output deltas are merged over a window (issue 11, item 13); a cell's state, and the
    snapshot of a viewer joining, never overtake them, and the newcomer does not get them."""
    from dikte.execution.outputs import DisplayRegistry, OutputRecorder

    nb = _notebook(tmp_path)
    nb.coalesce = 60.0  # only a flush sends them
    first = nb.join()
    first.queue.get_nowait()  # its snapshot
    cell = nb.doc.cells[0]
    cell["outputs"] = []
    rec = OutputRecorder(cell["id"], cell["outputs"], OutputLimits(), DisplayRegistry())
    for i in range(1000):
        nb.emit_outputs(rec.apply("stream", {"name": "stdout", "text": f"{i}\n"}))
    assert first.queue.empty()
    nb.broadcast({"type": "cell_state", "cell_id": cell["id"], "state": "idle"})
    got = [first.queue.get_nowait() for _ in range(first.queue.qsize())]
    assert [m["type"] for m in got] == ["output", "cell_state"]
    assert got[0]["change"]["kind"] == "append"  # one, holding all 1,000 lines
    assert got[0]["change"]["output"]["text"] == "".join(f"{i}\n" for i in range(1000))
    nb.emit_outputs(rec.apply("stream", {"name": "stdout", "text": "more\n"}))
    second = nb.join()
    snapshot = second.queue.get_nowait()
    assert snapshot["notebook"]["cells"][0]["outputs"][0]["text"].endswith("999\nmore\n")
    assert second.queue.empty()  # it has "more" in its snapshot, not again as a delta
    assert first.queue.get_nowait()["change"]["text"] == "more\n"
