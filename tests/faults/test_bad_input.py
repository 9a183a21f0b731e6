"""Hostile input (issue 11, items 9, 10 and 14): every case answers 4xx with a sentence, leaves
nothing behind, and every notebook stays viewable.

Before: a notebook file without ``cells``, deeply nested JSON and lone surrogates answered 500 (a
surrogate in a path made a file that broke its folder's listing for good; one in a cell's source
broke the notebook for good); ``Notebooks//x.ipynb`` opened a second copy of ``Notebooks/x.ipynb``;
a binary WebSocket frame dropped the socket without a close code; a WebSocket to an invalid notebook
was refused with a bare 403; duplicate cell ids in a file were kept; ``interrupt`` and ``restart``
over the WebSocket with no runtime got no answer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.support.server import Client, DikteServer

pytestmark = pytest.mark.timeout(120)

NB = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}}
DEEP = 100_000


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DikteServer]:
    server = DikteServer(tmp_path_factory.mktemp("bad") / "data", "--unsafe-no-sandbox")
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def client(srv: DikteServer) -> Client:
    return srv.client()


@pytest.fixture(scope="module")
def drive(srv: DikteServer, client: Client) -> Path:
    client.get("/api/drive/list")
    return srv.data_dir / "drives" / str(client.get("/api/me")["id"])


def refused(r: httpx.Response) -> str:
    """A 4xx answer in the one error shape; its sentence."""
    assert 400 <= r.status_code < 500, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    message = str(r.json()["error"]["message"])
    assert len(message.split()) > 3, message
    return message


def names(client: Client, folder: str = "Notebooks") -> list[str]:
    r = client.http.get("/api/drive/list", params={"path": folder})
    assert r.status_code == 200, r.text
    return [e["name"] for e in r.json()["entries"]]


def ws_url(srv: DikteServer, path: str) -> str:
    return f"{srv.url.replace('http://', 'ws://')}/api/notebooks/ws?path={quote(path)}"


def ws_open(srv: DikteServer, path: str) -> Any:
    return connect(ws_url(srv, path), additional_headers={"Authorization": f"Bearer {srv.token}"},
                   max_size=None)


def next_of(ws: Any, kind: str) -> dict[str, Any]:
    while True:
        msg: dict[str, Any] = json.loads(ws.recv(timeout=30))
        if msg["type"] == kind:
            return msg


# ---- item 9: notebooks that are not valid, deep JSON, lone surrogates ----------------------------


def test_a_notebook_file_without_cells_is_refused_with_a_sentence(client: Client,
                                                                  drive: Path) -> None:
    (drive / "Notebooks" / "nocells.ipynb").write_text(json.dumps(NB))
    path = "Notebooks/nocells.ipynb"
    assert "cells" in refused(client.http.get("/api/notebooks/view", params={"path": path}))
    refused(client.http.post("/api/notebooks/run", json={"path": path, "mode": "all"}))
    refused(client.http.get("/api/notebooks/export", params={"path": path}))
    assert "nocells.ipynb" in names(client)
    r = client.http.put("/api/drive/files/Notebooks/nocells2.ipynb", content=json.dumps(NB))
    refused(r)
    assert "nocells2.ipynb" not in names(client)


def test_deeply_nested_json_is_refused_in_files_and_bodies(srv: DikteServer, client: Client,
                                                           drive: Path) -> None:
    deep = "[" * DEEP + "]" * DEEP
    (drive / "Notebooks" / "deep.ipynb").write_text('{"cells": ' + deep + "}")
    refused(client.http.get("/api/notebooks/view", params={"path": "Notebooks/deep.ipynb"}))
    refused(client.http.put("/api/drive/files/Notebooks/deep2.ipynb", content=deep))
    assert "deep2.ipynb" not in names(client)
    client.post("/api/notebooks", {"path": "Notebooks/ok.ipynb"})
    body = '{"path": "Notebooks/ok.ipynb", "ops": ' + deep + "}"
    refused(client.http.post("/api/notebooks/edit", content=body,
                             headers={"Content-Type": "application/json"}))
    with ws_open(srv, "Notebooks/ok.ipynb") as ws:
        next_of(ws, "snapshot")
        ws.send('{"type": "edit", "ops": ' + deep + "}")
        assert next_of(ws, "error")["message"]
    assert client.view("Notebooks/ok.ipynb")["notebook"]["cells"]


def test_a_lone_surrogate_in_a_path_is_refused_and_makes_nothing(client: Client,
                                                                 drive: Path) -> None:
    before = sorted(os.listdir(drive / "Notebooks"))
    for path in ("Notebooks/\udc80.ipynb", "Notebooks/a\ud800b.txt"):
        refused(client.http.post("/api/notebooks", content=json.dumps({"path": path}),
                                 headers={"Content-Type": "application/json"}))
        refused(client.http.post("/api/drive/dirs", content=json.dumps({"path": path}),
                                 headers={"Content-Type": "application/json"}))
    assert sorted(os.listdir(drive / "Notebooks")) == before
    names(client)


def test_a_file_whose_name_is_not_utf8_does_not_break_its_folder(client: Client,
                                                                 drive: Path) -> None:
    os.makedirs(drive / "odd", exist_ok=True)
    with open(os.path.join(os.fsencode(drive / "odd"), b"\x80.txt"), "wb") as f:
        f.write(b"made by a runtime")
    (drive / "odd" / "plain.txt").write_text("x")
    assert "plain.txt" in names(client, "odd")


def test_a_lone_surrogate_in_a_cell_is_refused_and_the_notebook_stays_viewable(
        srv: DikteServer, client: Client) -> None:
    path = "Notebooks/sur.ipynb"
    cell = client.new_notebook(path, ["x = 1"])[0]
    for op in ({"op": "set_source", "cell_id": cell, "source": "a\udc80"},
               {"op": "insert", "source": "\ud800"},
               {"op": "set_metadata", "cell_id": cell, "metadata": {"k": ["\udfff"]}}):
        body = json.dumps({"path": path, "ops": [op]})
        refused(client.http.post("/api/notebooks/edit", content=body,
                                 headers={"Content-Type": "application/json"}))
    with ws_open(srv, path) as ws:
        next_of(ws, "snapshot")
        ws.send(json.dumps({"type": "edit", "ops": [
            {"op": "set_source", "cell_id": cell, "source": "b\udc80"}]}))
        assert next_of(ws, "error")["message"]
    view = client.view(path)
    assert [c["source"] for c in view["notebook"]["cells"]] == ["x = 1"]
    client.post("/api/notebooks/edit", {"path": path, "ops": [
        {"op": "set_source", "cell_id": cell, "source": "y = 2"}]})
    r = client.http.get(f"/api/drive/files/{path}")
    assert "".join(json.loads(r.content)["cells"][0]["source"]) == "y = 2"


def test_a_lone_surrogate_written_into_a_notebook_file_is_refused_with_a_sentence(
        client: Client, drive: Path) -> None:
    nb = {**NB, "cells": [{"cell_type": "markdown", "id": "a", "metadata": {},
                           "source": "\udc80"}]}
    (drive / "Notebooks" / "surfile.ipynb").write_text(json.dumps(nb))
    refused(client.http.get("/api/notebooks/view", params={"path": "Notebooks/surfile.ipynb"}))
    names(client)


# ---- item 10: one notebook, one document, whatever the spelling ----------------------------------


def test_every_spelling_of_a_path_opens_the_same_notebook(srv: DikteServer,
                                                          client: Client) -> None:
    cell = client.new_notebook("Notebooks/same.ipynb", ["x = 1"])[0]
    for spelling in ("Notebooks//same.ipynb", "./Notebooks/same.ipynb",
                     "Notebooks/./same.ipynb", "Notebooks/same.ipynb/"):
        with ws_open(srv, spelling) as ws:
            snap = next_of(ws, "snapshot")
            assert snap["path"] == "Notebooks/same.ipynb"
            ws.send(json.dumps({"type": "edit", "ops": [
                {"op": "set_source", "cell_id": cell, "source": spelling}]}))
            next_of(ws, "edited")
        assert client.view("Notebooks/same.ipynb")["notebook"]["cells"][0]["source"] == spelling
        view = client.view(spelling)
        assert view["path"] == "Notebooks/same.ipynb"
    refused(client.http.get("/api/notebooks/view", params={"path": "/Notebooks/same.ipynb"}))
    refused(client.http.get("/api/notebooks/view", params={"path": "Notebooks/../same.ipynb"}))


# ---- item 14: the WebSocket's smaller refusals ----------------------------------------------------


def test_a_binary_frame_is_answered_with_a_close_code_and_reason(srv: DikteServer,
                                                                 client: Client) -> None:
    client.post("/api/notebooks", {"path": "Notebooks/bin.ipynb"})
    with ws_open(srv, "Notebooks/bin.ipynb") as ws:
        next_of(ws, "snapshot")
        ws.send(b"\x00\x01binary")
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=30)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1003 and "text" in closed.value.rcvd.reason
    client.view("Notebooks/bin.ipynb")


def test_a_socket_to_an_invalid_notebook_gets_the_sentence(srv: DikteServer,
                                                           drive: Path) -> None:
    (drive / "Notebooks" / "broken.ipynb").write_text("{not json")
    with ws_open(srv, "Notebooks/broken.ipynb") as ws:
        error = next_of(ws, "error")
        assert error["code"] == "invalid_notebook" and "not JSON" in error["message"]
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4422


def test_duplicate_cell_ids_in_a_file_are_made_unique(client: Client, drive: Path) -> None:
    cell = {"cell_type": "code", "id": "same", "metadata": {}, "source": "", "outputs": [],
            "execution_count": None}
    nb = {**NB, "cells": [dict(cell, source="a"), dict(cell, source="b")]}
    (drive / "Notebooks" / "dups.ipynb").write_text(json.dumps(nb))
    cells = client.view("Notebooks/dups.ipynb")["notebook"]["cells"]
    assert [c["source"] for c in cells] == ["a", "b"]
    assert cells[0]["id"] == "same" and cells[1]["id"] != "same"


def test_interrupt_and_restart_without_a_runtime_are_answered(srv: DikteServer,
                                                              client: Client) -> None:
    client.post("/api/notebooks", {"path": "Notebooks/idle.ipynb"})
    with ws_open(srv, "Notebooks/idle.ipynb") as ws:
        next_of(ws, "snapshot")
        for kind in ("interrupt", "restart"):
            ws.send(json.dumps({"type": kind}))
            error = next_of(ws, "error")
            assert error["code"] == "not_connected" and "connect" in error["message"].lower()
    for kind in ("interrupt", "restart"):
        r = client.http.post(f"/api/notebooks/{kind}", json={"path": "Notebooks/idle.ipynb"})
        assert r.status_code == 503, r.text
        assert "/api/notebooks/connect" in r.json()["error"]["message"], r.text
