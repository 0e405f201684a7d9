"""A real Chromium with the DevTools virtual authenticator, at http://localhost:PORT (WebAuthn
refuses an IP): register a passkey on the account page, sign in with the password and the
passkey as the second step, then with the passkey alone. A failure leaves a screenshot of the
page under the test's temp dir."""

from __future__ import annotations

from collections.abc import Iterator
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


def _with_authenticator(context: BrowserContext, page: Page) -> None:
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_AUTHENTICATOR})


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
