"""The drive page in a real browser: folders, notebooks, rename, move, delete, download, and
chunked uploads with progress that resume after a dropped connection."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

import pytest
from playwright.sync_api import Locator, Page, Route, expect

from tests.e2e.conftest import sign_in
from tests.support.server import ApiFailure, Client, DikteServer

CHUNK = 8 * 2**20  # the server's chunk size


def open_drive(page: Page, server: DikteServer, folder: str = "") -> None:
    page.goto(f"{server.url}/#/drive/{quote(folder)}" if folder else f"{server.url}/#/drive")
    page.reload()  # the same hash would not load the folder again
    crumb = folder.rsplit("/", 1)[-1] if folder else "My Drive"
    expect(page.locator(".crumb-current")).to_have_text(crumb)
    expect(page.locator(".drive [aria-busy=true]")).to_have_count(0)


def row(page: Page, path: str) -> Locator:
    return page.locator(f'tr.entry[data-path="{path}"]')


def entry_action(page: Page, name: str, action: str) -> None:
    page.get_by_role("button", name=f"Actions for {name}", exact=True).click()
    page.get_by_role("menuitem", name=action).click()


def names(client: Client, folder: str) -> list[str]:
    return [e["name"] for e in client.get("/api/drive/list", params={"path": folder})["entries"]]


def drive_file(server: DikteServer, path: str) -> Path:
    return server.data_dir / "drives" / "1" / path


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def random_file(path: Path, size: int) -> Path:
    with path.open("wb") as f:
        left = size
        while left:
            n = min(left, 4 << 20)
            f.write(os.urandom(n))
            left -= n
    return path


def put_file(client: Client, path: str, data: bytes) -> None:
    client.call("PUT", f"/api/drive/files/{quote(path)}", content=data)


def test_a_drive_with_folders_and_notebooks(page: Page, new_page: Callable[..., Page],
                                            server: DikteServer, client: Client,
                                            shot: Callable[[Page, str], Path]) -> None:
    for folder in ("Course", "Datasets", "Projects"):
        client.post("/api/drive/dirs", {"path": folder})
    for nb in ("Getting started.ipynb", "Linear regression.ipynb", "Plots.ipynb"):
        client.post("/api/notebooks", {"path": nb})
    put_file(client, "iris.csv", b"sepal_length,sepal_width\n" + b"5.1,3.5\n" * 2000)
    put_file(client, "README.md", b"# My drive\n")

    open_drive(page, server)
    links = page.locator("tr.entry .entry-name")
    expect(links).to_have_text(["Course", "Datasets", "Notebooks", "Projects", "Getting started.ipynb",
                                "Linear regression.ipynb", "Plots.ipynb", "README.md", "iris.csv"])
    expect(row(page, "iris.csv").locator(".col-size")).to_have_text("15.6 KB")
    expect(page.get_by_role("link", name="Manage sessions")).to_be_visible()
    expect(page.locator(".me-name")).to_have_text("admin")
    shot(page, "drive")

    narrow = new_page(width=400, height=760)
    sign_in(narrow, server)
    expect(narrow.locator("tr.entry")).to_have_count(9)
    # Nothing spills sideways at phone width.
    assert narrow.evaluate("document.documentElement.scrollWidth") <= 400
    expect(narrow.get_by_role("button", name="New notebook")).to_be_visible()
    shot(narrow, "drive-narrow")

    # Folders open by click, and the breadcrumb leads back.
    page.get_by_role("link", name="Course").click()
    expect(page).to_have_url(re.compile(r"#/drive/Course$"))
    expect(page.get_by_text("This folder is empty")).to_be_visible()
    page.locator(".breadcrumb").get_by_role("link", name="My Drive").click()
    expect(page.locator(".crumb-current")).to_have_text("My Drive")


def test_create_rename_move_and_delete(page: Page, server: DikteServer, client: Client) -> None:
    open_drive(page, server)
    page.get_by_role("button", name="New folder").click()
    page.get_by_label("Folder name").fill("Work")
    page.get_by_role("button", name="Create").click()
    expect(row(page, "Work")).to_be_visible()
    assert drive_file(server, "Work").is_dir()

    row(page, "Work").get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"#/drive/Work$"))
    page.get_by_role("button", name="New folder").click()
    page.get_by_label("Folder name").fill("Archive")
    page.keyboard.press("Enter")  # the dialog is a form
    expect(row(page, "Work/Archive")).to_be_visible()

    # A new notebook opens its page.
    page.get_by_role("button", name="New notebook").click()
    page.get_by_label("Notebook name").fill("lesson one")
    page.get_by_role("button", name="Create").click()
    expect(page).to_have_url(re.compile(r"#/notebook/Work/lesson%20one\.ipynb$"))
    expect(page.locator("input.nb-title")).to_have_value("lesson one.ipynb")
    assert drive_file(server, "Work/lesson one.ipynb").is_file()

    open_drive(page, server, "Work")
    entry_action(page, "lesson one.ipynb", "Rename")
    name = page.get_by_label("New name")
    expect(name).to_have_value("lesson one.ipynb")
    name.fill("intro.ipynb")
    page.get_by_role("button", name="Rename").click()
    expect(row(page, "Work/intro.ipynb")).to_be_visible()
    expect(row(page, "Work/lesson one.ipynb")).to_have_count(0)

    entry_action(page, "intro.ipynb", "Move")
    page.get_by_label("To folder").fill("Work/Archive")
    page.get_by_role("button", name="Move").click()
    expect(row(page, "Work/intro.ipynb")).to_have_count(0)
    assert names(client, "Work/Archive") == ["intro.ipynb"]

    row(page, "Work/Archive").get_by_role("link").click()
    expect(row(page, "Work/Archive/intro.ipynb")).to_be_visible()
    entry_action(page, "intro.ipynb", "Delete")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Delete “intro.ipynb”?")
    dialog.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("This folder is empty")).to_be_visible()
    assert names(client, "Work/Archive") == []

    # Keyboard only: the row's menu opens with Enter, arrows move, Escape closes.
    open_drive(page, server, "Work")
    menu_button = page.get_by_role("button", name="Actions for Archive")
    menu_button.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("menuitem", name="Rename")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("menuitem", name="Move")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_role("menu")).to_have_count(0)
    expect(menu_button).to_be_focused()


def test_a_refusal_shows_the_servers_sentence(page: Page, server: DikteServer,
                                              client: Client) -> None:
    client.post("/api/drive/dirs", {"path": "Clash"})
    put_file(client, "Clash/a.txt", b"a")
    put_file(client, "Clash/b.txt", b"b")
    with pytest.raises(ApiFailure) as refused:
        client.post("/api/drive/rename", {"src": "Clash/a.txt", "dst": "Clash/b.txt"})
    sentence = refused.value.response.json()["error"]["message"]

    open_drive(page, server, "Clash")
    entry_action(page, "a.txt", "Rename")
    page.get_by_label("New name").fill("b.txt")
    page.get_by_role("button", name="Rename").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("alert")).to_have_text(sentence)
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert drive_file(server, "Clash/a.txt").read_bytes() == b"a"

    # A folder that is not there says so too.
    page.goto(f"{server.url}/#/drive/Nowhere")
    expect(page.get_by_role("alert")).to_contain_text("Nowhere")


def test_download(page: Page, server: DikteServer, client: Client) -> None:
    data = os.urandom(3 * 2**20 + 17)
    client.post("/api/drive/dirs", {"path": "Downloads"})
    put_file(client, "Downloads/blob #1.bin", data)
    open_drive(page, server, "Downloads")

    with page.expect_download() as menu_download:
        entry_action(page, "blob #1.bin", "Download")
    assert menu_download.value.suggested_filename == "blob #1.bin"
    assert Path(menu_download.value.path()).read_bytes() == data

    with page.expect_download() as link_download:  # the file's name is a download link
        row(page, "Downloads/blob #1.bin").get_by_role("link").click()
    assert Path(link_download.value.path()).read_bytes() == data


def test_upload_200_mb_with_progress(page: Page, server: DikteServer, client: Client,
                                     tmp_path: Path) -> None:
    big = random_file(tmp_path / "big.bin", 200 * 2**20)
    small = tmp_path / "notes.txt"
    small.write_text("hello\n")
    client.post("/api/drive/dirs", {"path": "Uploads"})
    open_drive(page, server, "Uploads")

    page.locator("input[type=file]").set_input_files([big, small])
    panel = page.get_by_role("region", name="Uploads")
    expect(panel).to_be_visible()
    bar = panel.get_by_role("progressbar", name="Upload of big.bin")
    # While it goes, the row shows the percentage (and the speed once measured, not checked:
    # on a fast machine the upload can end before the first speed reading).
    expect(panel.get_by_role("listitem", name="big.bin")).to_contain_text(
        re.compile(r"\d+% · "), timeout=60_000)
    expect(bar).to_have_attribute("aria-valuenow", "100", timeout=180_000)
    expect(panel.get_by_role("listitem", name="big.bin")).to_contain_text("Uploaded",
                                                                         timeout=60_000)
    expect(panel.get_by_role("listitem", name="notes.txt")).to_contain_text("Uploaded")
    expect(panel.get_by_role("heading")).to_have_text("2 uploads complete")
    expect(row(page, "Uploads/big.bin")).to_be_visible()  # the listing refreshed
    expect(row(page, "Uploads/big.bin").locator(".col-size")).to_have_text("200 MB")

    on_disk = drive_file(server, "Uploads/big.bin")
    assert on_disk.stat().st_size == big.stat().st_size
    assert sha256(on_disk) == sha256(big)
    assert drive_file(server, "Uploads/notes.txt").read_text() == "hello\n"

    panel.get_by_role("button", name="Close uploads").click()
    expect(panel).to_have_count(0)


def test_an_upload_resumes_after_a_dropped_connection(page: Page, server: DikteServer,
                                                      client: Client, tmp_path: Path) -> None:
    src = random_file(tmp_path / "resume.bin", 2 * CHUNK + 12345)
    client.post("/api/drive/dirs", {"path": "Resume"})
    open_drive(page, server, "Resume")

    dropped: list[int] = []
    asked: list[str] = []

    def chunk(route: Route) -> None:
        request = route.request
        if request.method == "PUT":
            offset = int(parse_qs(urlparse(request.url).query)["offset"][0])
            if offset == CHUNK and CHUNK not in dropped:
                dropped.append(offset)
                route.abort("connectionreset")  # the chunk never reaches the server
                return
            if offset == 2 * CHUNK and 2 * CHUNK not in dropped:
                dropped.append(offset)
                route.fetch()  # the server gets the last chunk, but its answer is lost
                route.abort("connectionreset")
                return
        elif request.method == "GET":
            asked.append(request.url)
        route.continue_()

    page.route(re.compile(r"/api/uploads/[^/?]+(\?.*)?$"), chunk)
    page.locator("input[type=file]").set_input_files(src)
    item = page.get_by_role("region", name="Uploads").get_by_role("listitem", name="resume.bin")
    expect(item).to_contain_text("Uploaded", timeout=60_000)
    expect(item.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")

    assert dropped == [CHUNK, 2 * CHUNK]
    assert len(asked) >= 2  # it asked the server where the upload stood each time
    on_disk = drive_file(server, "Resume/resume.bin")
    assert on_disk.stat().st_size == src.stat().st_size
    assert sha256(on_disk) == sha256(src)


def test_cancel_an_upload(page: Page, server: DikteServer, client: Client,
                          tmp_path: Path) -> None:
    src = random_file(tmp_path / "stuck.bin", 2 * CHUNK)
    client.post("/api/drive/dirs", {"path": "Cancelled"})
    open_drive(page, server, "Cancelled")

    def no_second_chunk(route: Route) -> None:
        if route.request.method == "PUT" and "offset=0" not in route.request.url:
            route.abort("connectionreset")  # the connection keeps dropping
        else:
            route.continue_()

    page.route(re.compile(r"/api/uploads/[^/?]+(\?.*)?$"), no_second_chunk)
    page.locator("input[type=file]").set_input_files(src)
    item = page.get_by_role("region", name="Uploads").get_by_role("listitem", name="stuck.bin")
    expect(item).to_contain_text("resuming")
    with page.expect_response(lambda r: r.request.method == "DELETE"
                              and "/api/uploads/" in r.url) as deleted:
        item.get_by_role("button", name="Cancel upload of stuck.bin").click()
    assert deleted.value.status == 204
    expect(item).to_contain_text("Cancelled")
    assert names(client, "Cancelled") == []
    assert not any((server.data_dir / "uploads" / "1").iterdir())


def test_sign_out(page: Page, server: DikteServer) -> None:
    open_drive(page, server)
    page.get_by_role("button", name="Sign out").click()
    signing_in = page.get_by_role("heading", name="Sign in")
    expect(signing_in).to_be_visible()
    page.reload()  # the cookie is gone: still signed out
    expect(signing_in).to_be_visible()
    assert page.evaluate("fetch('/api/me').then(r => r.status)") == 401
    sign_in(page, server)
    expect(page.locator(".crumb-current")).to_have_text("My Drive")


def test_an_address_changed_while_the_page_starts_is_followed(page: Page,
                                                              server: DikteServer) -> None:
    """The hash changes right after the app's first render, before its effects have run (a link
    followed, or a test's goto, while the page is still starting): the page shown follows it."""
    page.add_init_script("""
        new MutationObserver((_, seen) => {
          if (location.hash === "#/drive" && document.getElementById("app")?.childElementCount) {
            seen.disconnect();
            location.hash = "#/usage";
          }
        }).observe(document, { childList: true, subtree: true });
    """)
    page.goto("about:blank")  # a new document: the same address would only scroll
    page.goto(server.url + "/#/drive")
    expect(page.get_by_role("heading", name="My usage")).to_be_visible()
    assert page.url == server.url + "/#/usage"
