"""Browser fixtures: Playwright driving Debian's chromium (never `playwright install`).

- ``browser``: one headless chromium per worker, started for the first browser test and closed
  after the last (these tests run last, see tests/conftest.py: sync Playwright keeps an event
  loop running in its thread, which would stop pytest-asyncio's tests from running theirs).
- ``new_page``: a factory for pages (own context, 1280x800) closed after the test.
- ``page``: a page signed in to the module's ``server`` and showing the drive.
- ``shot``: saves a screenshot and returns its path: into ``$DIKTE_SCREENSHOTS`` when set
  (``scripts/screenshots.sh`` refreshes docs/screenshots/ so), else into the run's temporary
  folder. Tests that take one are marked ``screenshot``.

No test is retried: a browser test waits for what it needs (Playwright's ``expect``, or the
server's state) with generous deadlines, never for a fixed time.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from tests.support.server import DikteServer

HERE = Path(__file__).resolve().parent

# a shared, busy machine: pages wait for runtimes that start while they look
expect.set_options(timeout=30_000)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "shot" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.screenshot)


class Chromium:
    """The worker's chromium, started when first asked for."""

    def __init__(self) -> None:
        self.playwright: Playwright | None = None
        self.browser: Browser | None = None

    def get(self) -> Browser:
        if self.browser is None:
            chromium = shutil.which("chromium") or shutil.which("chromium-browser")
            if chromium is None:
                pytest.fail("Debian's chromium is missing; ./test.sh installs it "
                            "(apt-get install chromium)")
            self.playwright = sync_playwright().start()
            self.browser = self.playwright.chromium.launch(
                executable_path=chromium, args=["--disable-gpu", "--disable-quic"])
        return self.browser

    def close(self) -> None:
        if self.browser is not None:
            self.browser.close()
            self.browser = None
        if self.playwright is not None:
            self.playwright.stop()
            self.playwright = None


CHROMIUM = Chromium()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item,
                            nextitem: pytest.Item | None) -> Generator[None, None, None]:
    """After the fixtures' teardown: the browser closes when the next test is not a browser
    test, so that no Playwright event loop outlives the browser tests."""
    try:
        return (yield)
    finally:
        if nextitem is None or HERE not in Path(str(nextitem.path)).resolve().parents:
            CHROMIUM.close()


@pytest.fixture
def browser() -> Browser:
    return CHROMIUM.get()


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
    """Signed in by the sign-in endpoint the page itself calls, from the page's own context (its
    cookie jar), then showing the drive: one page load instead of three (tests of the sign-in
    page itself use :func:`sign_in`)."""
    p = new_page()
    answer = p.request.post(server.url + "/api/auth/login", data={"token": server.token},
                            headers={"Origin": server.url})
    assert answer.ok, answer.text()
    p.goto(server.url + "/#/drive")
    expect(p.get_by_role("toolbar", name="Drive actions")).to_be_visible()
    return p


@pytest.fixture
def shot(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Page, str], Path]:
    folder = Path(os.environ.get("DIKTE_SCREENSHOTS") or
                  tmp_path_factory.getbasetemp() / "screenshots")

    def save(page: Page, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        page.screenshot(path=str(path))
        return path

    return save
