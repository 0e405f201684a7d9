"""A real Chromium with the DevTools virtual authenticator, at http://localhost:PORT (WebAuthn
refuses an IP): register a passkey on the account page, sign in with the password and the
passkey as the second step, then with the passkey alone. A failure leaves a screenshot of the
page under the test's temp dir."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from browser_helpers import VIRTUAL_AUTHENTICATOR, launch_chromium, sign_in_with_password
from e2e_helpers import new_user

if TYPE_CHECKING:
    from conftest import Stack
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = [pytest.mark.browser, pytest.mark.one_nginx]

PASSKEYS_PATH = "/auth/account/passkeys"
FACTOR_PATH = "/auth/login/factor"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright, as in test_browser.py."""
    yield from launch_chromium()


def _with_authenticator(context: BrowserContext, page: Page) -> Callable[[], None]:
    """Give the page an authenticator; the function returned swaps it for a new one (another
    device: Chromium allows one internal authenticator at a time)."""
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_AUTHENTICATOR})

    def another_device() -> None:
        nonlocal added
        cdp.send(
            "WebAuthn.removeVirtualAuthenticator", {"authenticatorId": added["authenticatorId"]}
        )
        added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_AUTHENTICATOR})

    return another_device


def _log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out", exact=True).click()
    page.wait_for_url("**/auth/login?signed_out=1")


def test_browser_registers_a_passkey_and_signs_in_with_it_as_second_step_and_alone(
    stack: Stack, chromium: Browser, tmp_path: Path
) -> None:
    name, password = new_user(stack, "browser-passkey")
    context = chromium.new_context()
    page = context.new_page()
    try:
        _with_authenticator(context, page)
        page.goto(stack.localhost_url(PASSKEYS_PATH))
        sign_in_with_password(page, name, password)
        page.wait_for_url(stack.localhost_url(PASSKEYS_PATH))
        assert page.locator("#passkeys").inner_text() == "You have no passkeys yet."
        # The script runs: the note for browsers without it is hidden.
        assert not page.get_by_text("Adding a passkey needs JavaScript").is_visible()
        page.get_by_label("Name (to tell your passkeys apart)").fill("Laptop")
        page.get_by_role("button", name="Add a passkey").click()
        page.get_by_role("heading", name="Your recovery codes").wait_for()
        assert len(page.locator("#recovery-codes li").all_inner_texts()) == 10
        page.get_by_role("link", name="Continue").click()
        page.wait_for_url(stack.localhost_url(PASSKEYS_PATH))
        assert "Laptop" in page.locator("#passkeys").inner_text()

        # The password, then the passkey as the second step.
        page.goto(stack.localhost_url("/"))
        _log_out(page)
        page.goto(stack.localhost_url("/"))
        sign_in_with_password(page, name, password)
        page.wait_for_url(stack.localhost_url(FACTOR_PATH))
        # A user with passkeys only is not asked for an authenticator app's code.
        assert page.get_by_label("Code from your authenticator app").count() == 0
        page.get_by_role("button", name="Use a passkey").click()
        page.wait_for_url(stack.localhost_url("/"))
        assert page.locator("#user").inner_text() == name

        # No password at all: the discoverable passkey with user verification.
        _log_out(page)
        page.get_by_role("button", name="Sign in with a passkey").click()
        page.wait_for_url(stack.localhost_url("/"))
        assert page.locator("#user").inner_text() == name
        log = stack.processes["verifier"].log_path.read_text(encoding="utf-8")
        records = [line for line in log.splitlines() if "signin.succeeded" in line and name in line]
        assert any("methods=hwk,pin" in line for line in records), records
        assert any("methods=pwd,hwk" in line for line in records), records
    except BaseException:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise
    finally:
        context.close()


def test_the_passkeys_page_keeps_remove_beside_each_entry_and_no_line_under_add(
    stack: Stack, chromium: Browser, tmp_path: Path
) -> None:
    name, password = new_user(stack, "browser-passkey-look")
    context = chromium.new_context(viewport={"width": 800, "height": 900})
    page = context.new_page()
    try:
        another_device = _with_authenticator(context, page)
        page.goto(stack.localhost_url(PASSKEYS_PATH))
        sign_in_with_password(page, name, password)
        page.wait_for_url(stack.localhost_url(PASSKEYS_PATH))
        page.get_by_label("Name (to tell your passkeys apart)").fill("Laptop")
        page.get_by_role("button", name="Add a passkey").click()
        # The first second factor brings the recovery codes.
        page.get_by_role("link", name="Continue").click()
        page.get_by_text("Laptop", exact=True).wait_for()
        # A second device: an authenticator holds one passkey per account, and a long name
        # is the one that would push Remove under its entry.
        another_device()
        page.get_by_label("Name (to tell your passkeys apart)").fill("Phone in the office drawer")
        page.get_by_role("button", name="Add a passkey").click()
        page.get_by_text("Phone in the office drawer", exact=True).wait_for()
        assert page.locator("#passkeys li").count() == 2

        # Each Remove button sits on its entry's row: right of the entry's words and level
        # with them (not wrapped under them).
        for entry in page.locator("#passkeys li").all():
            text_box = entry.locator(".item-text").bounding_box()
            button_box = entry.get_by_role("button").bounding_box()
            assert text_box is not None and button_box is not None
            assert button_box["x"] >= text_box["x"] + text_box["width"]
            assert button_box["y"] < text_box["y"] + text_box["height"]
            assert text_box["y"] < button_box["y"] + button_box["height"]

        # Nothing draws a line between "Add a passkey" and its name field.
        lines = page.evaluate(
            """() => {
              const heading = document.getElementById("add-heading");
              const label = document.querySelector("label[for=passkey-name]");
              const between = [...document.querySelectorAll("main *")].filter((element) =>
                heading.compareDocumentPosition(element) & Node.DOCUMENT_POSITION_FOLLOWING &&
                label.compareDocumentPosition(element) & Node.DOCUMENT_POSITION_PRECEDING);
              return [heading, ...between, label].filter((element) => {
                const style = getComputedStyle(element);
                return element.tagName === "HR" || parseFloat(style.borderTopWidth) > 0 ||
                  parseFloat(style.borderBottomWidth) > 0;
              }).map((element) => element.className || element.tagName);
            }"""
        )
        assert lines == []

        page.set_viewport_size({"width": 320, "height": 640})
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
    except BaseException:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise
    finally:
        context.close()
