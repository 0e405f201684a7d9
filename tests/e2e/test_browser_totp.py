"""A real Chromium, 320 px wide: enrol TOTP on the account page, then sign in with the
password and a code; a replayed code refused; a wrong recovery code answered where it was
typed; a right one once. A failure leaves a
screenshot of the page under the test's temp dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from browser_helpers import NARROW, fits_narrow, launch_chromium, sign_in_with_password
from e2e_helpers import new_user
from factor_helpers import FACTOR_PATH, TOTP_PATH, Authenticator

if TYPE_CHECKING:
    from conftest import Stack
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.one_nginx]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright, as in test_browser.py."""
    yield from launch_chromium()


def test_browser_enrols_totp_and_signs_in_with_a_code_and_a_recovery_code(
    stack: Stack, chromium: Browser, tmp_path: Path
) -> None:
    name, password = new_user(stack, "browser-totp")
    context = chromium.new_context(viewport=NARROW)
    page = context.new_page()
    try:
        page.goto(stack.url(TOTP_PATH))
        sign_in_with_password(page, name, password)
        page.wait_for_url(stack.url(TOTP_PATH))
        assert page.get_by_role("heading", name="Set up your authenticator app").is_visible()
        assert page.locator("figure svg").is_visible()
        assert fits_narrow(page)
        app = Authenticator(page.locator("#totp-secret").inner_text().replace(" ", ""))
        page.get_by_label("Code from your authenticator app").fill(app.code())
        page.get_by_role("button", name="Activate").click()
        page.get_by_role("heading", name="Your recovery codes").wait_for()
        recovery_codes = page.locator("#recovery-codes li").all_inner_texts()
        assert len(recovery_codes) == 10

        page.goto(stack.url("/"))
        page.get_by_role("button", name="Log out", exact=True).click()
        page.wait_for_url("**/auth/login?signed_out=1")
        page.goto(stack.url("/"))
        sign_in_with_password(page, name, password)
        page.wait_for_url(stack.url(FACTOR_PATH))
        assert fits_narrow(page)
        code = app.code()
        page.get_by_label("Code from your authenticator app").fill(code)
        page.get_by_role("button", name="Verify").click()
        page.wait_for_url(stack.url("/"))
        assert page.locator("#user").inner_text() == name

        page.get_by_role("button", name="Log out", exact=True).click()
        page.wait_for_url("**/auth/login?signed_out=1")
        sign_in_with_password(page, name, password)
        page.wait_for_url(stack.url(FACTOR_PATH))
        page.get_by_label("Code from your authenticator app").fill(code)
        page.get_by_role("button", name="Verify").click()
        alert = page.get_by_role("alert")
        alert.wait_for()
        assert "already used" in alert.inner_text()
        assert page.url == stack.url(FACTOR_PATH)

        # A wrong recovery code comes back where it was typed: the fold open, the message
        # above the recovery field (not the app's), the cursor in it.
        page.get_by_text("Use a recovery code").click()
        page.get_by_label("Recovery code").fill("not-a-right-code")
        page.get_by_role("button", name="Use recovery code").click()
        alert = page.locator("details").get_by_role("alert")
        alert.wait_for()
        assert "not right" in alert.inner_text()
        assert page.locator("details").get_attribute("open") is not None
        assert page.locator("#form-error").inner_text() == ""
        assert page.evaluate("document.activeElement.id") == "recovery_code"
        field_top = page.locator("#recovery_code").bounding_box()
        alert_box = alert.bounding_box()
        assert field_top is not None and alert_box is not None
        assert alert_box["y"] < field_top["y"]
        assert fits_narrow(page)

        page.get_by_label("Recovery code").fill(recovery_codes[0])
        page.get_by_role("button", name="Use recovery code").click()
        page.get_by_role("heading", name="Signed in with a recovery code").wait_for()
        assert "9 recovery" in page.locator("#recovery-left").inner_text()
        page.get_by_role("link", name="Continue").click()
        page.wait_for_url(stack.url("/"))
        assert page.locator("#user").inner_text() == name
    except BaseException:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise
    finally:
        context.close()
