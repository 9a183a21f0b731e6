"""Runtime images named in the config: offered, chosen at connect, refused when unknown."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from tests.support.server import DikteServer


def test_images_from_the_config_file(fresh_server: Callable[..., DikteServer],
                                     tmp_path: Path) -> None:
    config = tmp_path / "dikte.toml"
    config.write_text(
        f'default_image = "py"\n[images.py]\npython = "{sys.executable}"\n'
        'description = "The test environment"\n'
        f'[images.other]\npython = "{sys.executable}"\ndescription = "Another name"\n')
    srv = fresh_server(DIKTE_CONFIG=str(config)).start()
    client = srv.client()
    offered = client.get("/api/images")
    bring_your_own = {"built": True, "version": None, "python_version": None, "packages": None,
                      "built_at": None, "build_command": None}
    assert offered == [
        {"name": "other", "description": "Another name", "default": False, **bring_your_own},
        {"name": "py", "description": "The test environment", "default": True, **bring_your_own},
    ]
    path = "Notebooks/images.ipynb"
    client.new_notebook(path, ["1"])
    info = client.post("/api/notebooks/connect", {"path": path, "image": "other"})
    assert info["image"] == "other"
    (session,) = client.get("/api/sessions")
    assert session["image"] == "other"
    client.post("/api/notebooks/disconnect", {"path": path})
    r = client.http.post("/api/notebooks/connect", json={"path": path, "image": "nope"})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "no_such_image" and "other, py" in err["message"]
    assert client.view(path)["runtime"] is None
