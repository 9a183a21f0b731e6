"""The drive through the REST API: every operation, and hostile paths."""

from __future__ import annotations

import json

import pytest

from tests.support.server import Client


def test_drive_operations_round_trip(client: Client) -> None:
    assert {e["path"] for e in client.get("/api/drive/list")["entries"]} >= {"Notebooks"}
    client.post("/api/drive/dirs", {"path": "data/raw"})
    entry = client.call("PUT", "/api/drive/files/data/raw/a.bin", content=b"\x00\x01" * 1000)
    assert entry["size"] == 2000 and entry["kind"] == "file"
    assert client.http.get("/api/drive/files/data/raw/a.bin").content == b"\x00\x01" * 1000
    client.post("/api/drive/rename", {"src": "data/raw/a.bin", "dst": "data/b.bin"})
    listing = client.get("/api/drive/list", params={"path": "data"})["entries"]
    assert [(e["name"], e["kind"]) for e in listing] == [("raw", "dir"), ("b.bin", "file")]
    client.call("DELETE", "/api/drive/files/data")
    assert "data" not in {e["path"] for e in client.get("/api/drive/list")["entries"]}


# as they appear in a URL (percent-encodings are decoded by the server before the check)
URL_PATHS = ["../secret", "a/../../etc/passwd", "/etc/passwd", "..%2F..%2Fdikte.db",
             "%2e%2e/%2e%2e/x", "Notebooks/../../1/x", "Notebooks/%00x"]
# as they appear in JSON bodies and query parameters
LITERAL_PATHS = ["../secret", "a/../../etc/passwd", "/etc/passwd", "Notebooks/../../1/x",
                 "..", "x\x00y", "Notebooks/..\\..\\x"]


@pytest.mark.parametrize("path", URL_PATHS)
def test_path_traversal_in_urls_is_refused(client: Client, path: str) -> None:
    for method in ("GET", "PUT", "DELETE"):
        r = client.http.request(method, f"/api/drive/files/{path}",
                                content=b"x" if method == "PUT" else None)
        assert 400 <= r.status_code < 500, (method, path, r.status_code)
        assert r.json()["error"]["code"] in ("bad_path", "not_found")


@pytest.mark.parametrize("path", LITERAL_PATHS)
def test_path_traversal_in_bodies_is_refused(client: Client, path: str) -> None:
    checks = [
        client.http.get("/api/drive/list", params={"path": path}),
        client.http.post("/api/drive/dirs", json={"path": path}),
        client.http.post("/api/drive/rename", json={"src": "Notebooks", "dst": path}),
        client.http.post("/api/drive/rename", json={"src": path, "dst": "stolen"}),
        client.http.post("/api/notebooks", json={"path": path + "/x.ipynb"}),
        client.http.get("/api/notebooks/view", params={"path": path + "/x.ipynb"}),
    ]
    for r in checks:
        assert 400 <= r.status_code < 500, (r.request.url, r.status_code, r.text)
    assert "Notebooks" in {e["path"] for e in client.get("/api/drive/list")["entries"]}


def test_a_malformed_notebook_upload_is_refused_and_nothing_is_overwritten(
        client: Client) -> None:
    path = "Notebooks/keep.ipynb"
    client.post("/api/notebooks", {"path": path})
    before = client.http.get(f"/api/drive/files/{path}").content
    bad = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                      "cells": [{"cell_type": "code", "source": "x"}]}).encode()
    for body in (bad, b"{not json", b""):
        r = client.http.put(f"/api/drive/files/{path}", content=body)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "invalid_notebook"
        assert "Notebooks/keep.ipynb" in r.json()["error"]["message"]
    assert client.http.get(f"/api/drive/files/{path}").content == before


def test_an_oversized_upload_names_the_limit(fresh_server: object) -> None:
    srv = fresh_server("--unsafe-no-sandbox", DIKTE_UPLOAD_MAX_BYTES="1KiB")  # type: ignore[operator]
    client = srv.start().client()
    client.call("PUT", "/api/drive/files/small.txt", content=b"ok")
    r = client.http.put("/api/drive/files/small.txt", content=b"x" * 5000)
    assert r.status_code == 413
    assert "1 KiB" in r.json()["error"]["message"]

    def chunks():  # no Content-Length: the limit is enforced while streaming
        for _ in range(10):
            yield b"y" * 500

    r = client.http.put("/api/drive/files/small.txt", content=chunks())
    assert r.status_code == 413
    assert client.http.get("/api/drive/files/small.txt").content == b"ok"


def test_downloads_stream_the_open_file_with_length_and_ranges(client: Client) -> None:
    data = bytes(range(256)) * 40
    client.call("PUT", "/api/drive/files/ranges/été.bin", content=data)
    url = "/api/drive/files/ranges/été.bin"
    r = client.http.get(url)
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-length"] == str(len(data))
    assert r.headers["accept-ranges"] == "bytes"
    assert "filename*=UTF-8''%C3%A9t%C3%A9.bin" in r.headers["content-disposition"]
    for wanted, start, end in (("bytes=10-19", 10, 20), ("bytes=10000-", 10000, len(data)),
                               ("bytes=-5", len(data) - 5, len(data)),
                               ("bytes=10200-99999", 10200, len(data))):
        r = client.http.get(url, headers={"Range": wanted})
        assert r.status_code == 206, (wanted, r.status_code)
        assert r.content == data[start:end], wanted
        assert r.headers["content-range"] == f"bytes {start}-{end - 1}/{len(data)}"
        assert r.headers["content-length"] == str(end - start)
    r = client.http.get(url, headers={"Range": "bytes=20000-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{len(data)}"
    r = client.http.get(url, headers={"Range": "bytes=0-1,5-6"})  # several: the whole file
    assert r.status_code == 200 and r.content == data
    r = client.http.get(url, headers={"Range": "bytes=0-1", "If-Range": '"stale"'})
    assert r.status_code == 200 and r.content == data
    etag = client.http.get(url).headers["etag"]
    r = client.http.get(url, headers={"Range": "bytes=0-1", "If-Range": etag})
    assert r.status_code == 206 and r.content == data[:2]
