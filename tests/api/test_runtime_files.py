"""The Files panel: browsing, downloading and uploading a runtime's /content, path-safely."""

from __future__ import annotations

from typing import Any

from tests.support.server import Client, DikteServer, cell_text

SANDBOX_UID = 600000 + 1  # sandbox_uid_base + the admin's person id


def _connect(client: Client, path: str, sources: list[str]) -> tuple[str, list[str]]:
    ids = client.new_notebook(path, sources)
    rid: str = client.post("/api/notebooks/connect", {"path": path})["runtime_id"]
    return rid, ids


def _run(client: Client, path: str, cell_id: str) -> str:
    (state,) = client.run_cells(path, [cell_id])
    assert state["last_status"] == "ok", client.view(path)
    return cell_text(client.view(path), cell_id)


def _files(client: Client, path: str, folder: str = "") -> Any:
    return client.http.get("/api/runtime/files", params={"path": path, "dir": folder})


def _download(client: Client, path: str, file: str) -> Any:
    return client.http.get("/api/runtime/files/download", params={"path": path, "file": file})


def _refused(response: Any, code: str = "bad_path") -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code, response.text


def test_browse_download_upload_mkdir_delete(server: DikteServer, client: Client) -> None:
    path = "Notebooks/files.ipynb"
    rid, (make, check) = _connect(client, path, [
        "import os\nos.makedirs('/content/data', exist_ok=True)\n"
        "open('/content/data/a.txt', 'w').write('from a cell')",
        "st = os.stat('/content/up/b.bin')\n"
        "print(open('/content/up/b.bin', 'rb').read().decode(), st.st_uid, "
        "sorted(os.listdir('/content/made')))",
    ])
    _run(client, path, make)

    listing = _files(client, path).json()
    names = {e["name"]: e for e in listing["entries"]}
    assert listing["path"] == "" and {"data", "drive"} <= set(names), listing
    assert "Notebooks" not in names  # a runtime's /content is not made to look like a drive
    data = _files(client, path, "data").json()["entries"]
    assert [(e["name"], e["path"], e["kind"], e["size"]) for e in data] == [
        ("a.txt", "data/a.txt", "file", 11)]
    r = _download(client, path, "data/a.txt")
    assert r.status_code == 200 and r.content == b"from a cell"

    r = client.http.put("/api/runtime/files/upload", params={"path": path, "file": "up/b.bin"},
                        content=b"uploaded")
    assert r.status_code == 201 and r.json()["path"] == "up/b.bin", r.text
    r = client.http.post("/api/runtime/files/mkdir", json={"path": path, "dir": "made/deep"})
    assert r.status_code == 201 and r.json()["kind"] == "dir", r.text
    # owned by the runtime's root (its user namespace's uid 0, host uid SANDBOX_UID)
    assert _run(client, path, check).split() == ["uploaded", "0", "['deep']"]

    r = client.http.post("/api/runtime/files/delete", json={"path": path, "file": "up"})
    assert r.status_code == 204, r.text
    assert not (server.data_dir / "runtimes" / rid / "content" / "up").exists()
    assert _download(client, path, "up/b.bin").status_code == 404
    for mount in ("drive", "drive/MyDrive"):
        r = client.http.post("/api/runtime/files/delete", json={"path": path, "file": mount})
        _refused(r, "mount_point")


def test_my_drive_is_the_persons_drive(client: Client) -> None:
    path = "Notebooks/files-drive.ipynb"
    _connect(client, path, [])
    client.http.put("/api/drive/files/shared/x.txt", content=b"in the drive")
    entries = _files(client, path, "drive/MyDrive").json()["entries"]
    by_name = {e["name"]: e["path"] for e in entries}
    assert by_name["Notebooks"] == "drive/MyDrive/Notebooks"
    assert by_name["shared"] == "drive/MyDrive/shared"
    r = _download(client, path, "drive/MyDrive/shared/x.txt")
    assert r.status_code == 200 and r.content == b"in the drive"
    r = client.http.put("/api/runtime/files/upload",
                        params={"path": path, "file": "drive/MyDrive/shared/y.txt"}, content=b"y")
    assert r.status_code == 201 and r.json()["path"] == "drive/MyDrive/shared/y.txt", r.text
    assert client.http.get("/api/drive/files/shared/y.txt").content == b"y"


def test_links_a_cell_made_lead_nowhere(server: DikteServer, client: Client) -> None:
    other = "Notebooks/files-other.ipynb"
    other_rid, (secret,) = _connect(client, other, [
        "open('/content/secret.txt', 'w').write('other runtime')"])
    _run(client, other, secret)
    other_content = server.data_dir / "runtimes" / other_rid / "content"
    path = "Notebooks/files-links.ipynb"
    _, (links,) = _connect(client, path, [
        "import os\n"
        "os.symlink('/etc', '/content/etc_link')\n"
        "os.symlink('/etc/shadow', '/content/shadow_link')\n"
        f"os.symlink({str(other_content)!r}, '/content/other')\n"
        f"os.symlink({str(server.data_dir)!r}, '/content/data_dir')"])
    _run(client, path, links)

    for file in ("etc_link/shadow", "shadow_link", "other/secret.txt", "data_dir/dikte.db",
                 "../../../dikte.db", "/etc/passwd", "drive/MyDrive/../../../../dikte.db"):
        r = _download(client, path, file)
        _refused(r)
        assert b"root:" not in r.content and b"other runtime" not in r.content
    for folder in ("etc_link", "other", "data_dir", ".."):
        _refused(_files(client, path, folder))
    r = client.http.put("/api/runtime/files/upload",
                        params={"path": path, "file": "other/planted.txt"}, content=b"x")
    _refused(r)
    assert not (other_content / "planted.txt").exists()
    r = client.http.post("/api/runtime/files/mkdir", json={"path": path, "dir": "etc_link/x"})
    _refused(r)
    # the links themselves are listed and can be deleted, without touching their targets
    names = {e["name"] for e in _files(client, path).json()["entries"]}
    assert {"etc_link", "other"} <= names
    r = client.http.post("/api/runtime/files/delete", json={"path": path, "file": "other"})
    assert r.status_code == 204
    assert (other_content / "secret.txt").read_text() == "other runtime"


def test_without_a_runtime(client: Client) -> None:
    path = "Notebooks/files-none.ipynb"
    client.new_notebook(path, [])
    for r in (_files(client, path), _download(client, path, "x"),
              _files(client, "Notebooks/never-made.ipynb"),
              client.http.post("/api/runtime/files/mkdir", json={"path": path, "dir": "d"})):
        assert r.status_code == 409, r.text
        error = r.json()["error"]
        assert error["code"] == "not_connected"
        assert error["message"] == "Connect a runtime to see its files."
