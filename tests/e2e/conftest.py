"""Browser fixtures: Playwright driving Debian's chromium (never `playwright install`).

- ``browser``: one headless chromium per test module.
- ``new_page``: a factory for pages (own context, 1280x800) closed after the test.
- ``page``: a page signed in to the module's ``server`` and showing the drive.
- ``shot``: saves a screenshot under docs/screenshots/ (for the docs) and returns its path.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from tests.support.server import DikteServer

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A browser test that fails is run again (up to twice) before it counts as failed: on a
    2-core machine a headless browser's timing varies with load. A failure that repeats is real."""
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.flaky(reruns=2, reruns_delay=1))


# Module scope, not session: sync Playwright keeps an event loop running in this thread, which
# would stop pytest-asyncio's tests in later folders from running theirs.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("Debian's chromium is missing; ./test.sh installs it (apt-get install chromium)")
    browser = playwright.chromium.launch(executable_path=chromium,
                                         args=["--disable-gpu", "--disable-quic"])
    yield browser
    browser.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    contexts = []

    def make(width: int = 1280, height: int = 800, color_scheme: str = "light") -> Page:
        ctx = browser.new_context(viewport={"width": width, "height": height},
                                  color_scheme=color_scheme)  # type: ignore[arg-type]
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    for ctx in contexts:
        ctx.close()


def sign_in(page: Page, server: DikteServer, token: str | None = None) -> None:
    page.goto(server.url + "/")
    field = page.get_by_label("Access token")
    toggle = page.get_by_role("button", name="Use an access token instead")
    expect(field.or_(toggle)).to_be_visible()  # the page opens on name and password
    if toggle.is_visible():
        toggle.click()
    field.fill(token or server.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Access token")).to_have_count(0)


@pytest.fixture
def page(new_page: Callable[..., Page], server: DikteServer) -> Page:
    p = new_page()
    sign_in(p, server)
    return p


@pytest.fixture
def shot() -> Callable[[Page, str], Path]:
    def save(page: Page, name: str) -> Path:
        DOCS.mkdir(parents=True, exist_ok=True)
        path = DOCS / f"{name}.png"
        page.screenshot(path=str(path))
        return path

    return save
