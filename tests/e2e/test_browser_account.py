"""A real Chromium, 320 px wide, two browser contexts of one user (one of them says it is
Safari on an iPhone): the account page in the first tells the two sessions apart (browser
and version, system, address and network, how and when each signed in, last used), and
ends the second's only after a confirmation that Cancel leaves untouched; the second then
gets the sign-in page on its next request. A failure leaves screenshots of both pages
under the test's temp dir."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from browser_helpers import NARROW, fits_narrow, launch_chromium, sign_in_with_password
from e2e_helpers import new_user

if TYPE_CHECKING:
    from conftest import Stack
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.one_nginx]

IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright, as in test_browser.py."""
    yield from launch_chromium()


def _facts(page: Page, item: str) -> dict[str, str]:
    """The label and value pairs of one session of the list."""
    entry = page.locator(item)
    terms = entry.locator("dt").all_inner_texts()
    values = entry.locator("dd").all_inner_texts()
    return dict(zip(terms, values, strict=True))


def test_the_account_page_tells_two_sessions_apart_and_ends_the_other_after_confirming(
    stack: Stack, chromium: Browser, tmp_path: Path
) -> None:
    name, password = new_user(stack, "browser-account")
    first_context = chromium.new_context(viewport=NARROW)
    second_context = chromium.new_context(viewport=NARROW, user_agent=IPHONE_SAFARI)
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
        assert fits_narrow(first)

        # This device first, marked, and named by its browser's major version.
        this = first.locator("li.this-device")
        assert this.locator("h3").inner_text().startswith("Chrome ")
        assert re.fullmatch(r"Chrome \d+ on Linux", this.locator("h3").inner_text())
        assert this.locator(".badge").inner_text() == "This device"
        other_heading = first.locator("ul.sessions > li").nth(1).locator("h3")
        assert other_heading.inner_text() == "Safari 17 on iOS"
        other = _facts(first, "ul.sessions > li:nth-child(2)")
        assert other["Address"] == "127.0.0.1 (this server's own machine)"
        assert other["Signed in with"] == "password"
        assert other["Last used"] == "just now"
        assert re.fullmatch(r"\w{3} \d{1,2}, \d{4}, \d{1,2}:\d\d\s[AP]M UTC", other["Signed in"])

        # "End session" asks first; Cancel ends nothing.
        first.get_by_role("button", name="End the session on Safari 17 on iOS").click()
        first.get_by_role("heading", name="End this session?").wait_for()
        assert "Safari 17 on iOS" in first.locator("main").inner_text()
        assert "signed out at once" in first.locator("main").inner_text()
        assert fits_narrow(first)
        first.get_by_role("link", name="Cancel").click()
        first.get_by_role("heading", name="Your account").wait_for()
        assert first.locator("ul.sessions > li").count() == 2
        second.reload()
        assert second.locator("#user").inner_text() == name

        first.get_by_role("button", name="End the session on Safari 17 on iOS").click()
        first.get_by_role("heading", name="End this session?").wait_for()
        first.get_by_role("button", name="End session").click()
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


def test_ending_every_other_session_from_the_browser_asks_first(
    stack: Stack, chromium: Browser, tmp_path: Path
) -> None:
    name, password = new_user(stack, "browser-others")
    others = [stack.login(name, password) for _ in range(2)]
    context = chromium.new_context(viewport=NARROW)
    page = context.new_page()
    try:
        page.goto(stack.url("/auth/account"))
        sign_in_with_password(page, name, password)
        page.wait_for_url(stack.url("/auth/account"))
        page.get_by_role("button", name="End all other sessions").click()

        page.get_by_role("heading", name="End all other sessions?").wait_for()
        said = page.locator("main").inner_text()
        assert "These 2 sessions are signed out at once; this device stays signed in." in said
        assert page.locator("ul.brief > li").count() == 2
        assert fits_narrow(page)
        page.get_by_role("button", name="End all other sessions").click()

        page.get_by_role("status").wait_for()
        assert page.get_by_role("status").inner_text() == "Every other session has ended."
        assert page.locator("ul.sessions > li").count() == 1
        for other in others:
            assert other.get(stack.url("/"), allow_redirects=False).status_code == 302
    except BaseException:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise
    finally:
        context.close()
