"""A real Chromium, 320 px wide, two browser contexts of one user: the account page in the
first lists both sessions and ends the second's, which then gets the sign-in page on its
next request. A failure leaves screenshots of both pages under the test's temp dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from browser_helpers import NARROW, fits_narrow, launch_chromium, sign_in_with_password
from e2e_helpers import new_user

if TYPE_CHECKING:
    from conftest import Stack
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.one_nginx]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright, as in test_browser.py."""
    yield from launch_chromium()


def test_the_account_page_in_one_browser_ends_the_session_of_another(
    stack: Stack, chromium: Browser, tmp_path: Path
) -> None:
    name, password = new_user(stack, "browser-account")
    first_context = chromium.new_context(viewport=NARROW)
    second_context = chromium.new_context(viewport=NARROW)
    first, second = first_context.new_page(), second_context.new_page()
    try:
        second.goto(stack.url("/"))
        sign_in_with_password(second, name, password)
        second.wait_for_url(stack.url("/"))
        assert second.locator("#user").inner_text() == name

        # Sent to sign in, and back to the account page after.
        first.goto(stack.url("/auth/account"))
        sign_in_with_password(first, name, password)
        first.wait_for_url(stack.url("/auth/account"))
        assert first.get_by_role("heading", name="Your account").is_visible()
        assert first.locator("ul.sessions > li").count() == 2
        assert "This device" in first.locator("li.this-device").inner_text()
        assert fits_narrow(first)

        first.get_by_role("button", name="End the session on Chrome on Linux").click()
        first.get_by_role("status").wait_for()
        assert first.get_by_role("status").inner_text() == "The session has ended."
        assert first.locator("ul.sessions > li").count() == 1

        second.reload()
        second.get_by_role("heading", name="Sign in").wait_for()
        assert "/auth/login" in second.url
        # The first browser is still signed in.
        first.get_by_role("link", name="Back to the app").click()
        first.wait_for_url(stack.url("/"))
        assert first.locator("#user").inner_text() == name
        first.get_by_role("link", name="Your account").click()
        first.wait_for_url(stack.url("/auth/account"))
    except BaseException:
        first.screenshot(path=str(tmp_path / "first.png"), full_page=True)
        second.screenshot(path=str(tmp_path / "second.png"), full_page=True)
        raise
    finally:
        first_context.close()
        second_context.close()
