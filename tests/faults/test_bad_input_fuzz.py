"""Generated hostile input against one real server (issue 11): paths, notebook files and WebSocket
messages. Whatever arrives, the answer is never a 5xx, and a notebook that was valid stays
viewable. Bounded and deterministic: ``derandomize``, no example database, no deadline.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.support.server import Client, DikteServer

pytestmark = pytest.mark.timeout(300)

BOUNDED = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture,
                                          HealthCheck.too_slow])
KEEP = "Notebooks/keep.ipynb"

# any code point, surrogates included, with the characters that matter to paths made likely
_chars = st.one_of(st.characters(codec=None, categories=None),
                   st.sampled_from(["/", ".", "\\", "\udc80", "\ud800", "\x00", " "]))
paths = st.lists(_chars, max_size=30).map("".join)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(_chars),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(_chars, max_size=8),
                                                                inner, max_size=4),
    max_leaves=20)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DikteServer]:
    server = DikteServer(tmp_path_factory.mktemp("fuzz") / "data", "--unsafe-no-sandbox")
    server.start()
    server.client().new_notebook(KEEP, ["x = 1", "y = 2"])
    yield server
    server.close()


@pytest.fixture(scope="module")
def client(srv: DikteServer) -> Client:
    return srv.client()


def _still_fine(client: Client) -> None:
    assert len(client.view(KEEP)["notebook"]["cells"]) >= 1
    r = client.http.get("/api/drive/list", params={"path": "Notebooks"})
    assert r.status_code == 200, r.text


def _no_5xx(status: int, text: str, what: str) -> None:
    assert status < 500, f"{what}: {status} {text}"


@BOUNDED
@given(path=paths)
def test_any_path_is_answered_without_a_server_error(client: Client, path: str) -> None:
    body = json.dumps({"path": path})  # JSON escapes what the text cannot carry
    headers = {"Content-Type": "application/json"}
    raw = quote(path.encode("utf-8", "surrogatepass"))  # in a URL: bytes that are not UTF-8
    for method, url, kw in (
            ("GET", f"/api/drive/list?path={raw}", {}),
            ("GET", f"/api/notebooks/view?path={raw}", {}),
            ("POST", "/api/drive/dirs", {"content": body, "headers": headers}),
            ("POST", "/api/notebooks", {"content": body, "headers": headers}),
            ("PUT", f"/api/drive/files/{raw}", {"content": b"data"})):
        r = client.http.request(method, url, **kw)
        _no_5xx(r.status_code, r.text, f"{method} {url} {path!r}")
    _still_fine(client)


@BOUNDED
@given(doc=json_values | st.fixed_dictionaries(
    {"nbformat": st.just(4), "nbformat_minor": st.integers(0, 5), "metadata": json_values},
    optional={"cells": st.lists(json_values | st.fixed_dictionaries(
        {"cell_type": st.sampled_from(["code", "markdown", "raw", "other"]),
         "id": st.sampled_from(["a", "a", "b"]), "metadata": st.just({}),
         "source": st.text(_chars, max_size=20)},
        optional={"outputs": st.just([]), "execution_count": st.none()}), max_size=4)}))
def test_any_notebook_file_is_answered_without_a_server_error(srv: DikteServer, client: Client,
                                                              doc: Any) -> None:
    drive = srv.data_dir / "drives" / str(client.get("/api/me")["id"]) / "Notebooks"
    text = json.dumps(doc)
    (drive / "fuzzed.ipynb").write_text(text)  # as a runtime would write it
    for method, url, kw in (
            ("GET", "/api/notebooks/view", {"params": {"path": "Notebooks/fuzzed.ipynb"}}),
            ("GET", "/api/notebooks/export", {"params": {"path": "Notebooks/fuzzed.ipynb",
                                                         "format": "py"}}),
            ("PUT", "/api/drive/files/Notebooks/up.ipynb", {"content": text.encode()})):
        r = client.http.request(method, url, **kw)
        _no_5xx(r.status_code, r.text, f"{method} {url} {text[:300]}")
    _still_fine(client)


@BOUNDED
@given(message=json_values | st.fixed_dictionaries(
    {"type": st.sampled_from(["execute", "edit", "interrupt", "restart", "cancel", "input_reply",
                              "activity", "channel_reply", "invoke_function", "nothing"])},
    optional={"ops": st.lists(st.fixed_dictionaries(
        {"op": st.sampled_from(["insert", "delete", "move", "set_source", "set_type",
                                "clear_outputs", "set_metadata", "other"])},
        optional={"cell_id": st.text(_chars, max_size=8), "index": st.integers(-3, 5),
                  "source": st.text(_chars, max_size=20), "metadata": json_values,
                  "cell_type": st.sampled_from(["code", "markdown", "raw", "x"])}),
        max_size=3),
        "cell_id": st.text(_chars, max_size=8), "value": st.text(_chars, max_size=8)}))
def test_any_websocket_message_leaves_the_notebook_viewable(srv: DikteServer, client: Client,
                                                            message: Any) -> None:
    url = f"{srv.url.replace('http://', 'ws://')}/api/notebooks/ws?path={quote(KEEP)}"
    with connect(url, additional_headers={"Authorization": f"Bearer {srv.token}"},
                 max_size=None) as ws:
        assert json.loads(ws.recv(timeout=30))["type"] == "snapshot"
        ws.send(json.dumps(message))
        ws.send(json.dumps({"type": "nothing"}))  # refused, so always answered: a barrier
        try:
            while json.loads(ws.recv(timeout=30)).get("code") != "bad_message":
                pass
        except ConnectionClosed as closed:  # only a binary frame may close it
            raise AssertionError(f"the socket closed on {message!r}: {closed}") from None
    _still_fine(client)
