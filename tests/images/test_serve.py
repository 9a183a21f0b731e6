"""The server with runtime images that are built and not: it says how to build them, lists them
with their versions, refuses a runtime of one that is not built, and runs runtimes in the image's
own environment (the test image, or one an admin declares from a requirements file)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from dikte.config import ImageConfig, Settings
from dikte.images import build, catalog
from tests.support.server import Client, DikteServer, cell_text


def _connect(client: Client, path: str, image: str | None = None) -> httpx.Response:
    client.new_notebook(path, ["import sys; print(sys.prefix)"])
    return client.http.post("/api/notebooks/connect", json={"path": path, "image": image})


def _prefix(client: Client, path: str) -> str:
    (cell,) = client.view(path)["notebook"]["cells"]
    client.run_cells(path, [cell["id"]])
    return cell_text(client.view(path), cell["id"]).strip()


def test_a_server_with_no_image_built_says_how_to_build_one(
        fresh_server: Callable[..., DikteServer], tmp_path: Path) -> None:
    srv = fresh_server(DIKTE_IMAGES_DIR=str(tmp_path / "empty")).start()
    assert ("no runtime image is built, so no notebook can run yet; build one with: dikte image "
            "build minimal (small) or dikte image build colab") in srv.log_text()
    client = srv.client()
    offered = {i["name"]: i for i in client.get("/api/images")}
    assert offered["colab"] == {
        "name": "colab", "description": offered["colab"]["description"], "default": True,
        "built": False, "version": None, "python_version": None, "packages": None,
        "built_at": None, "build_command": "dikte image build colab"}
    assert not offered["minimal"]["built"] and not offered["minimal"]["default"]
    r = _connect(client, "Notebooks/none.ipynb")
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "image_not_built"
    assert ("No runtime image is built on this server yet. An administrator builds one with: "
            "dikte image build minimal") in error["message"]
    assert "dikte image build colab" in error["message"]
    (cell,) = client.view("Notebooks/none.ipynb")["notebook"]["cells"]
    r = client.http.post("/api/notebooks/run", json={"path": "Notebooks/none.ipynb",
                                                     "cell_ids": [cell["id"]]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "image_not_built"
    assert client.view("Notebooks/none.ipynb")["runtime"] is None
    # Run in the web app (the notebook's WebSocket) is refused with the same sentence
    sock = client.socket("Notebooks/none.ipynb")
    try:
        sock.send({"type": "execute", "cell_id": cell["id"]})
        refused = sock.wait_for(lambda m: m["type"] == "error")
    finally:
        sock.close()
    assert refused["code"] == "image_not_built"
    assert "dikte image build minimal" in refused["message"]
    assert client.view("Notebooks/none.ipynb")["runtime"] is None


def test_the_built_image_is_the_default_and_the_unbuilt_one_is_refused(
        fresh_server: Callable[..., DikteServer], runtime_image: Path) -> None:
    srv = fresh_server().start()  # the test image cache: minimal built, colab not
    log = srv.log_text()
    assert "runtime image colab is not built; build it with: dikte image build colab" in log
    assert "new runtimes use the runtime image minimal" in log
    client = srv.client()
    offered = {i["name"]: i for i in client.get("/api/images")}
    manifest = catalog.read_manifest(runtime_image.parent.parent)
    assert manifest is not None
    assert offered["minimal"] == {
        "name": "minimal", "description": offered["minimal"]["description"], "default": True,
        "built": True, "version": manifest.version, "python_version": manifest.python_version,
        "packages": len(manifest.packages), "built_at": manifest.built_at, "build_command": None}
    assert offered["colab"]["built"] is False and offered["colab"]["default"] is False

    r = _connect(client, "Notebooks/colab.ipynb", "colab")
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "image_not_built"
    assert error["message"] == (
        "The runtime image colab is not built on this server yet. An administrator builds it "
        "with: dikte image build colab. Meanwhile choose another image (minimal) in Change "
        "runtime type.")

    path = "Notebooks/minimal.ipynb"
    r = _connect(client, path)
    assert r.status_code == 200, r.text
    assert r.json()["image"] == "minimal"
    assert _prefix(client, path) == str(runtime_image.parent.parent)  # not the server's venv


def test_an_image_the_admin_declares_from_a_requirements_file(
        fresh_server: Callable[..., DikteServer], tmp_path: Path,
        requirements: Callable[..., Path]) -> None:
    reqs = requirements("tqdm")
    config = tmp_path / "dikte.toml"
    config.write_text(f'[images.science]\nrequirements = "{reqs}"\n'
                      'description = "Our course\'s packages"\n')
    images = tmp_path / "admin-images"
    settings = Settings(images_dir=images, images={"science": ImageConfig(requirements=str(reqs))})
    manifest = build.build(settings, "science", progress=lambda line: None)
    srv = fresh_server(DIKTE_CONFIG=str(config), DIKTE_IMAGES_DIR=str(images)).start()
    client = srv.client()
    (offered,) = client.get("/api/images")
    assert offered["name"] == "science" and offered["default"] and offered["built"]
    assert offered["version"] == manifest.version
    assert offered["description"] == "Our course's packages"
    path = "Notebooks/science.ipynb"
    assert _connect(client, path, "science").status_code == 200
    assert _prefix(client, path) == str(images / "science")
