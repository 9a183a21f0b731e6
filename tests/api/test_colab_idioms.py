"""What Colab users type works in a runtime: shell escapes, magics, pip, plots, rich HTML."""

from __future__ import annotations

import base64
from pathlib import Path

from tests.colab.wheels import make_wheel
from tests.support.server import Client, cell_text


def _run(client: Client, path: str, ids: list[str]) -> dict:
    client.run_cells(path, ids)
    return client.view(path)


def test_shell_escapes_and_magics(client: Client) -> None:
    path = "Notebooks/idioms.ipynb"
    ids = client.new_notebook(path, [
        "!mkdir -p /content/work/sub && touch /content/work/a.txt /content/work/b.txt",
        "files = !ls /content/work\nprint(files)",
        "%cd /content/work/sub\nimport os; print(os.getcwd())",
        "%%bash\necho from bash $((6 * 7))",
        "!echo $HOME; whoami",
    ])
    view = _run(client, path, ids)
    assert cell_text(view, ids[1]).strip() == "['a.txt', 'b.txt', 'sub']"
    assert cell_text(view, ids[2]).strip().endswith("/content/work/sub")
    assert cell_text(view, ids[3]).strip() == "from bash 42"
    assert cell_text(view, ids[4]).split() == ["/root", "root"]  # root, as on Colab


def test_matplotlib_plots_inline_and_html_renders(client: Client) -> None:
    path = "Notebooks/plots.ipynb"
    plot, html = client.new_notebook(path, [
        "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.show()",
        "from IPython.display import HTML\nHTML('<b>bold</b>')",
    ])
    view = _run(client, path, [plot, html])
    cells = {c["id"]: c for c in view["notebook"]["cells"]}
    images = [o for o in cells[plot]["outputs"] if "image/png" in o.get("data", {})]
    assert len(images) == 1
    assert base64.b64decode(images[0]["data"]["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert cells[html]["outputs"][0]["data"]["text/html"] == "<b>bold</b>"


def test_pip_installs_into_the_runtime_and_vanishes_with_it(client: Client,
                                                           tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "tinypkg", "1.0", {"tinypkg.py": "ANSWER = 42\n"})
    client.call("PUT", f"/api/drive/files/wheels/{wheel.name}", content=wheel.read_bytes())
    path = "Notebooks/pip.ipynb"
    install, use, system = client.new_notebook(path, [
        "%pip install -q --no-index /content/drive/MyDrive/wheels/tinypkg-1.0-py3-none-any.whl",
        "import tinypkg; print(tinypkg.ANSWER)",
        "!touch /usr/lib/dikte-test && ls /usr/lib/dikte-test",
    ])
    view = _run(client, path, [install, use, system])
    assert cell_text(view, use).strip() == "42"
    # the runtime's system is its own: writable, and nothing reaches the host
    assert cell_text(view, system).strip() == "/usr/lib/dikte-test"
    assert not Path("/usr/lib/dikte-test").exists()
    client.post("/api/notebooks/restart", {"path": path})      # like Colab: survives a restart
    view = _run(client, path, [use])
    assert cell_text(view, use).strip() == "42"
    client.post("/api/notebooks/disconnect", {"path": path})   # and is gone with the runtime
    view = _run(client, path, [use])
    assert "ModuleNotFoundError" in cell_text(view, use)
    client.post("/api/notebooks/disconnect", {"path": path})
