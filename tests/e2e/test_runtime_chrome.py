"""The runtime's chrome in the notebook page: meters with figures that open a resource panel, and
confirmations before Restart and Disconnect and delete. Real browser, server and kernel."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, Route, expect

from tests.e2e.test_notebook import LONG, cell, output, run_button
from tests.e2e.test_panels import open_notebook
from tests.support.server import DikteServer


def _connected_notebook(page: Page, server: DikteServer) -> tuple[str, str]:
    client = server.client()
    path = f"Notebooks/chrome-{uuid.uuid4().hex[:8]}.ipynb"
    (cid,) = client.new_notebook(path, ["try:\n    print('x is', x)\nexcept NameError:\n"
                                        "    x = 41\n    print('x was set')"])
    open_notebook(page, server, path)
    run_button(page, cid).click()
    expect(output(page, cid)).to_contain_text("x was set", timeout=LONG)
    return path, cid


def _runtime_menu(page: Page, item: str) -> None:
    page.get_by_role("button", name="Runtime", exact=True).click()
    page.get_by_role("menuitem", name=item).click()


def test_meters_show_figures_and_open_the_resource_panel(page: Page, server: DikteServer) -> None:
    _connected_notebook(page, server)
    meters = page.get_by_role("button", name="Resources: RAM, disk and GPU use")
    # figures, not only bars: "12.3 MB / 12.0 GB"
    expect(meters).to_contain_text(re.compile(r"RAM\s*[\d.]+ [KMG]i?B / [\d.]+ [KMG]i?B"),
                                   timeout=LONG)
    meters.click()
    panel = page.get_by_role("dialog", name="Resources")
    expect(panel).to_contain_text("System RAM")
    expect(panel).to_contain_text("Disk")
    expect(panel).to_contain_text(re.compile(r"of [\d.]+ [KMG]i?B \(\d+%\)"))
    expect(panel).to_contain_text("No GPU")
    page.keyboard.press("Escape")
    expect(panel).to_have_count(0)
    # Escape at once, before the browser has painted the panel (or run its effects): it closes
    opened_then_closed = page.evaluate("""async () => {
        const tick = () => new Promise((done) => setTimeout(done, 0));
        document.querySelector('.rt-meters').click();
        await tick();
        const opened = document.querySelector('.rt-resources') !== null;
        document.activeElement.dispatchEvent(
            new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}));
        await tick();
        return [opened, document.querySelector('.rt-resources') !== null];
    }""")
    assert opened_then_closed == [True, False]


def test_restart_and_disconnect_ask_first(page: Page, server: DikteServer) -> None:
    _, cid = _connected_notebook(page, server)
    _runtime_menu(page, "Restart session")
    dialog = page.get_by_role("dialog", name="Restart session?")
    expect(dialog).to_contain_text("every variable is lost")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    run_button(page, cid).click()  # nothing was restarted: x is still there
    expect(output(page, cid)).to_contain_text("x is 41", timeout=LONG)

    # Run while the restart's request is still on its way (held here): the cell waits for the
    # restart and runs in the new kernel (it went to the old one, which the restart then
    # stopped: "The kernel was restarted.")
    held: list[Route] = []
    page.route("**/api/notebooks/restart", lambda route: held.append(route))
    _runtime_menu(page, "Restart session")
    page.get_by_role("dialog", name="Restart session?").get_by_role("button",
                                                                    name="Restart").click()
    page.wait_for_function("() => true")  # lets the route's handler see the request
    assert len(held) == 1
    run_button(page, cid).click()
    page.evaluate("() => crypto.subtle.digest('SHA-256', new Uint8Array(1))")  # as a Run does
    held[0].continue_()
    page.unroute("**/api/notebooks/restart")
    expect(output(page, cid)).to_contain_text("x was set", timeout=LONG)
    expect(page.get_by_role("status", name="Runtime connected")).to_be_visible(timeout=LONG)

    _runtime_menu(page, "Disconnect and delete runtime")
    dialog = page.get_by_role("dialog", name="Disconnect and delete runtime?")
    expect(dialog).to_contain_text("every file in /content are deleted")
    dialog.get_by_role("button", name="Delete runtime").click()
    expect(page.get_by_role("button", name="Connect to a runtime")).to_be_visible(timeout=LONG)
    expect(cell(page, cid)).to_be_visible()


def test_change_runtime_type_shows_each_image_with_its_version(page: Page,
                                                               server: DikteServer) -> None:
    """As Colab shows its runtime version: the built image with its version, Python and package
    count; an image this server has not built, disabled, with the command that builds it."""
    client = server.client()
    images = {i["name"]: i for i in client.get("/api/images")}
    built = next(i for i in images.values() if i["built"])
    path = f"Notebooks/image-version-{uuid.uuid4().hex[:8]}.ipynb"
    client.new_notebook(path, ["1"])
    open_notebook(page, server, path)
    page.get_by_role("navigation", name="Menu bar").get_by_role(
        "button", name="Runtime", exact=True).click()
    page.get_by_role("menuitem", name="Change runtime type").click()
    dialog = page.get_by_role("dialog", name="Change runtime type")
    row = dialog.locator(f"[data-image={built['name']}]")
    expect(row).to_contain_text(f"{built['name']} · {built['version']}")
    expect(row).to_contain_text(f"Python {built['python_version']}")
    expect(row).to_contain_text(f"{built['packages']} packages")
    expect(row.get_by_role("radio")).to_be_checked()
    for image in images.values():
        if not image["built"]:
            other = dialog.locator(f"[data-image={image['name']}]")
            expect(other).to_contain_text(
                f"Not built on this server: an administrator runs {image['build_command']}")
            expect(other.get_by_role("radio")).to_be_disabled()
