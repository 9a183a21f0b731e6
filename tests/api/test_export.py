"""Download as .ipynb, .py and HTML from a real server, with outputs a real kernel produced."""

from __future__ import annotations

import html
import re
from urllib.parse import quote

import httpx
import nbformat
import pytest

from tests.support.server import Client

PATH = "Notebooks/Exported nb.ipynb"


@pytest.fixture(scope="module")
def ran(server: object) -> str:
    """A notebook with Markdown, a magic, and outputs (text, HTML with a script), run once."""
    from tests.support.server import DikteServer

    assert isinstance(server, DikteServer)
    client = server.client()
    ids = client.new_notebook(PATH, [
        "%cd /content\nprint('hello from the kernel')",
        "from IPython.display import HTML, display\n"
        "display(HTML('<b>bold</b><script>document.title = \"owned\"</script>'))",
    ])
    client.post("/api/notebooks/edit", {"path": PATH, "ops": [
        {"op": "insert", "index": 0, "cell_type": "markdown",
         "source": "# Report\n\n<script>alert('md')</script> *done*"}]})
    states = client.run_cells(PATH, ids)
    assert [s["last_status"] for s in states] == ["ok", "ok"]
    return PATH


def export(client: Client, path: str, fmt: str | None) -> httpx.Response:
    params = {"path": path, **({"format": fmt} if fmt else {})}
    return client.http.get("/api/notebooks/export", params=params)


def test_ipynb_carries_the_outputs(client: Client, ran: str) -> None:
    r = export(client, ran, None)  # ipynb is the default
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/x-ipynb+json"
    assert r.headers["content-disposition"] == (
        "attachment; filename=\"Exported nb.ipynb\"; filename*=UTF-8''Exported%20nb.ipynb")
    nb = nbformat.reads(r.text, as_version=4)
    nbformat.validate(nb)
    assert "hello from the kernel" in nb.cells[1].outputs[-1]["text"]


def test_py_is_a_script_with_cell_markers(client: Client, ran: str) -> None:
    r = export(client, ran, "py")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/x-python")
    assert 'filename="Exported nb.py"' in r.headers["content-disposition"]
    text = r.text
    assert "# %% [markdown]\n# # Report\n" in text
    assert "# %%\n# %cd /content\nprint('hello from the kernel')\n" in text
    assert text.count("# %%") == 3
    compile(text, "exported.py", "exec")


def test_html_is_one_page_with_outputs_sandboxed(client: Client, ran: str) -> None:
    r = export(client, ran, "html")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    # never rendered as a page of this site
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["content-security-policy"] == "sandbox"
    assert r.headers["x-content-type-options"] == "nosniff"
    text = r.text
    assert "<h1>Report</h1>" in text and "&lt;script&gt;alert('md')" in text
    assert "hello from the kernel" in text
    frame = re.search(r'<iframe class="out-frame" sandbox="allow-scripts"[^>]*srcdoc="([^"]*)"', text)
    assert frame and "<b>bold</b><script>document.title" in html.unescape(frame.group(1))
    outside = re.sub(r'srcdoc="[^"]*"', "", text)
    assert "<script>document.title" not in outside and outside.count("<script>") == 1
    assert "http://" not in text.replace("http://www.w3.org", "")  # nothing fetched from elsewhere


def test_an_edit_not_yet_saved_is_exported(client: Client, ran: str) -> None:
    """An open notebook is exported from the server's live copy."""
    view = client.view(ran)
    md_id = view["notebook"]["cells"][0]["id"]
    client.post("/api/notebooks/edit", {"path": ran, "ops": [
        {"op": "set_source", "cell_id": md_id, "source": "# Report, edited"}]})
    assert "# # Report, edited" in export(client, ran, "py").text


@pytest.mark.parametrize(("path", "fmt", "status", "code"), [
    ("Notebooks/missing.ipynb", "py", 404, "not_found"),
    ("Notebooks/data.csv", "py", 400, "not_a_notebook"),
    ("../x.ipynb", "html", 400, "bad_path"),
    (PATH, "pdf", 422, "invalid_request"),
])
def test_refusals(client: Client, ran: str, path: str, fmt: str, status: int, code: str) -> None:
    r = export(client, path, fmt)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code


def test_a_read_only_token_may_download(client: Client, ran: str) -> None:
    token = client.post("/api/tokens", {"name": "reader", "scopes": ["read"]})["token"]
    reader = httpx.Client(base_url=client.url, headers={"Authorization": f"Bearer {token}"})
    try:
        r = reader.get(f"/api/notebooks/export?path={quote(ran)}&format=py")
        assert r.status_code == 200
    finally:
        reader.close()
