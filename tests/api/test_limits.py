"""Size limits on what one person sends (issue 11, item 12): an edit batch, a cell's source and a
WebSocket message over its limit are refused whole, with a sentence naming the limit, and the
notebook and the socket stay usable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import ApiFailure, DikteServer


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DikteServer]:
    srv = DikteServer(tmp_path_factory.mktemp("limits") / "data", env={
        "DIKTE_RUNTIME_MEMORY": "2GiB", "DIKTE_EDIT_MAX_OPS": "50",
        "DIKTE_CELL_SOURCE_MAX_BYTES": "64KiB", "DIKTE_WEBSOCKET_MAX_MESSAGE_BYTES": "256KiB"})
    srv.start()
    yield srv
    srv.close()


def _error(sock_messages: list[dict[str, object]]) -> dict[str, object]:
    errors = [m for m in sock_messages if m["type"] == "error"]
    assert errors, "no error came back"
    return errors[-1]


def test_an_edit_batch_over_the_limit_is_refused_whole(small: DikteServer) -> None:
    client = small.client()
    path = "Notebooks/batch.ipynb"
    (cid,) = client.new_notebook(path, ["print(1)"])
    ops = [{"op": "insert", "source": f"x = {i}"} for i in range(51)]
    with pytest.raises(ApiFailure) as refused:
        client.post("/api/notebooks/edit", {"path": path, "ops": ops})
    assert refused.value.response.status_code == 400
    body = refused.value.response.json()["error"]
    assert body["code"] == "edit_too_large"
    assert "51 operations" in body["message"] and "edit_max_ops" in body["message"]
    sock = client.socket(path)
    try:
        sock.send({"type": "edit", "ops": ops})
        err = sock.wait_for(lambda m: m["type"] == "error")
        assert err["code"] == "edit_too_large"
        sock.send({"type": "edit", "ops": ops[:50]})  # at the limit: applied, socket still open
        sock.wait_for(lambda m: m["type"] == "edited")
        cells = client.view(path)["notebook"]["cells"]  # while open: the server's copy
    finally:
        sock.close()
    assert len(cells) == 51 and cells[0]["id"] == cid


def test_a_cell_over_the_source_limit_is_refused(small: DikteServer) -> None:
    client = small.client()
    path = "Notebooks/big_cell.ipynb"
    (cid,) = client.new_notebook(path, ["print(1)"])
    big = "# " + "é" * 40_000  # 40,000 characters, 80,000 bytes of UTF-8
    with pytest.raises(ApiFailure) as refused:
        client.post("/api/notebooks/edit", {"path": path, "ops": [
            {"op": "set_source", "cell_id": cid, "source": "ok = 1"},
            {"op": "set_source", "cell_id": cid, "source": big}]})
    assert refused.value.response.status_code == 413
    body = refused.value.response.json()["error"]
    assert body["code"] == "cell_too_large" and "cell_source_max_bytes" in body["message"]
    sock = client.socket(path)
    try:
        sock.send({"type": "edit", "ops": [{"op": "insert", "source": big}]})
        assert sock.wait_for(lambda m: m["type"] == "error")["code"] == "cell_too_large"
    finally:
        sock.close()
    cells = client.view(path)["notebook"]["cells"]
    assert [c["source"] for c in cells] == ["print(1)"]  # nothing of either batch applied


def test_a_websocket_message_over_the_limit_is_refused_and_the_socket_stays(
        small: DikteServer) -> None:
    client = small.client()
    path = "Notebooks/big_message.ipynb"
    (cid,) = client.new_notebook(path, ["print(1)"])
    sock = client.socket(path)
    try:
        sock.wait_for(lambda m: m["type"] == "snapshot")
        sock.ws.send(json.dumps({"type": "activity", "padding": "x" * 300_000}))
        err = sock.wait_for(lambda m: m["type"] == "error")
        assert err["code"] == "message_too_large"
        assert "websocket_max_message_bytes" in str(err["message"])
        sock.send({"type": "edit", "ops": [{"op": "set_source", "cell_id": cid,
                                            "source": "print(2)"}]})
        sock.wait_for(lambda m: m["type"] == "edited")
    finally:
        sock.close()
    assert _error(sock.messages)["code"] == "message_too_large"


def test_the_limits_are_in_the_configuration_docs() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text()
    for key in ("websocket_max_message_bytes", "edit_max_ops", "cell_source_max_bytes"):
        assert f"`{key}`" in doc
