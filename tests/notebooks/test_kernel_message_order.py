"""The kernel's messages arrive on two sockets (shell and iopub), in either order: a cell's
execute_reply read after its idle status still delivers its help page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat

from dikte.drive import Drive
from dikte.execution.outputs import OutputLimits
from dikte.notebooks.notebook import OpenNotebook


def _msg(msg_type: str, parent: str, content: dict[str, Any]) -> dict[str, Any]:
    return {"msg_type": msg_type, "parent_header": {"msg_id": parent}, "content": content,
            "header": {"msg_id": f"{msg_type}-1"}, "metadata": {}}


def _running(tmp_path: Path) -> tuple[OpenNotebook, str]:
    doc = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    doc.cells = [nbformat.v4.new_code_cell("os.path.join?")]  # type: ignore[no-untyped-call]
    nb = OpenNotebook(person_id=1, path="a.ipynb", drive=Drive(tmp_path / "d"), doc=doc,
                      limits=OutputLimits(), save_interval=2.0, autosave=False)
    cid = doc.cells[0]["id"]
    nb.running, nb.running_msg = cid, "exec-1"
    return nb, cid


PAGE = {"status": "ok", "execution_count": 1, "payload": [
    {"source": "page", "data": {"text/plain": "Join two or more pathname components"},
     "start": 0}]}


def test_a_help_page_whose_reply_comes_after_the_idle_status_still_arrives(
        tmp_path: Path) -> None:
    nb, cid = _running(tmp_path)
    viewer = nb.join()
    nb.on_iopub(_msg("status", "exec-1", {"execution_state": "idle"}))
    assert nb.running is None  # the cell ended on its idle status
    nb.on_shell(_msg("execute_reply", "exec-1", PAGE))
    sent = []
    while not viewer.queue.empty():
        sent.append(viewer.queue.get_nowait())
    helps = [m for m in sent if m and m["type"] == "help"]
    assert helps == [{"type": "help", "cell_id": cid, "data": PAGE["payload"][0]["data"]}]


def test_a_reply_in_the_usual_order_gives_one_help_page_and_strangers_none(
        tmp_path: Path) -> None:
    nb, cid = _running(tmp_path)
    viewer = nb.join()
    nb.on_shell(_msg("execute_reply", "exec-1", PAGE))
    nb.on_iopub(_msg("status", "exec-1", {"execution_state": "idle"}))
    nb.on_shell(_msg("execute_reply", "someone-else", PAGE))  # not a cell of this notebook
    sent = []
    while not viewer.queue.empty():
        sent.append(viewer.queue.get_nowait())
    assert [m["cell_id"] for m in sent if m and m["type"] == "help"] == [cid]
