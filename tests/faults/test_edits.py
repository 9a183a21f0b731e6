"""Edit batches apply all or nothing, and the journal that keeps acknowledged edits."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from dikte.notebooks.journal import EditJournal, journal_path, read, replay
from tests.support.server import ApiFailure, Client, DikteServer, cell_text


def _cells(client: Client, path: str) -> list[dict]:
    return list(client.view(path)["notebook"]["cells"])


def test_a_batch_with_a_refused_edit_changes_nothing(server: DikteServer,
                                                     client: Client) -> None:
    path = "Notebooks/batch.ipynb"
    first, second = client.new_notebook(path, ["print('one')", "b = 2"])
    client.run_cells(path, [first])
    before = _cells(client, path)
    sock = client.socket(path)
    try:
        sock.wait_for(lambda m: m["type"] == "snapshot")
        for ops in (
            [{"op": "set_source", "cell_id": second, "source": "changed"},
             {"op": "set_source", "cell_id": "no-such-cell", "source": "x"}],
            [{"op": "clear_outputs", "cell_id": first},
             {"op": "set_type", "cell_id": second, "cell_type": "markdown"},
             {"op": "insert", "index": 0, "source": "new"},
             {"op": "move", "cell_id": first, "index": 99}],
            [{"op": "delete", "cell_id": first},
             {"op": "set_metadata", "cell_id": second, "metadata": {"collapsed": "no"}}],
        ):
            with pytest.raises(ApiFailure) as refused:
                client.post("/api/notebooks/edit", {"path": path, "ops": ops})
            assert refused.value.response.status_code in (400, 404)
            assert _cells(client, path) == before
        # a good batch after the refused ones is the first thing the viewer hears of edits
        client.post("/api/notebooks/edit", {"path": path, "ops": [
            {"op": "set_source", "cell_id": second, "source": "b = 3"}]})
        echo = sock.wait_for(lambda m: m["type"] == "edited")
        assert echo["ops"] == [{"op": "set_source", "cell_id": second, "source": "b = 3"}]
    finally:
        sock.close()
    assert "one" in cell_text(client.view(path), first)


def test_the_journal_replays_acknowledged_edits(tmp_path: Path) -> None:
    """What a restarted server does with a journal: the edits come back as they were echoed
    (inserted cells with their ids), ops whose cell is gone are skipped, and a torn last line
    (written while the server died, never acknowledged) is left out."""
    doc = nbformat.v4.new_notebook()
    doc.cells.append(nbformat.v4.new_code_cell("a = 1"))
    keep_id = doc.cells[0]["id"]
    inserted = nbformat.v4.new_markdown_cell("# new")
    file = journal_path(tmp_path, 7, "Notebooks/x.ipynb")
    file.parent.mkdir(parents=True)
    lines = [
        {"path": "Notebooks/x.ipynb", "ops": [
            {"op": "set_source", "cell_id": keep_id, "source": "a = 2"},
            {"op": "insert", "index": 0, "cell": dict(inserted), "cell_id": inserted["id"]}]},
        {"path": "Notebooks/x.ipynb", "ops": [
            {"op": "set_source", "cell_id": "gone", "source": "x"},
            {"op": "move", "cell_id": inserted["id"], "index": 1}]},
    ]
    file.write_bytes(b"".join(json.dumps(x).encode() + b"\n" for x in lines)
                     + b'{"path": "Notebooks/x.ipynb", "ops": [{"op": "del')
    path, batches = read(file)
    assert path == "Notebooks/x.ipynb" and len(batches) == 2
    assert replay(doc, batches) == 3
    assert [c["source"] for c in doc.cells] == ["a = 2", "# new"]
    assert doc.cells[1]["id"] == inserted["id"]
    nbformat.validate(doc)
    assert replay(doc, batches[:1]) == 1  # again: the insert is there already, skipped


async def test_a_saved_snapshot_empties_the_journal(tmp_path: Path) -> None:
    journal = EditJournal(journal_path(tmp_path, 1, "a.ipynb"), "a.ipynb")
    one = journal.append([{"op": "set_source", "cell_id": "c", "source": "1"}])
    assert await journal.durable(one)
    assert len(read(journal.file)[1]) == 1
    two = journal.append([{"op": "set_source", "cell_id": "c", "source": "2"}])
    await journal.saved(one)  # a snapshot taken after the first batch only
    assert await journal.durable(two)
    assert [b[0]["source"] for b in read(journal.file)[1]] == ["2"]
    await journal.saved(two)
    assert not journal.file.exists()
