"""A real Chromium through the demo's step-up: an admin signed in with a password alone opens
the admin area (`group:admins mfa`), is asked to confirm a second factor (or to set one up
first) and arrives where it was going, in the same session. A failure leaves a screenshot of
the page under the test's temp dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from browser_helpers import NARROW, launch_chromium, sign_in_with_password
from e2e_helpers import new_user
from factor_helpers import Authenticator

if TYPE_CHECKING:
    from conftest import Stack
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.one_nginx]

STEP_UP = "/auth/login?step_up=mfa&next=/admin/"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright, as in test_browser.py."""
    yield from launch_chromium()


def _admin(stack: Stack) -> tuple[str, str]:
    name, password = new_user(stack, "browser-admin")
    assert stack.cli("users", "groups", name, "--add", "admins").returncode == 0
    return name, password


def _enrol_here(page: Page) -> Authenticator:
    """On the enrolment page: read the key, type a code, see the recovery codes."""
    page.get_by_role("heading", name="Set up your authenticator app").wait_for()
    app = Authenticator(page.locator("#totp-secret").inner_text().replace(" ", ""))
    page.get_by_label("Code from your authenticator app").fill(app.code())
    page.get_by_role("button", name="Activate").click()
    page.get_by_role("heading", name="Your recovery codes").wait_for()
    return app


def _session_shown(page: Page) -> str:
    return page.locator("#session").inner_text()


def test_browser_enrols_on_the_account_page_then_steps_up_into_the_admin_area(
    stack: Stack, chromium: Browser, tmp_path: Path
) -> None:
    name, password = _admin(stack)
    context = chromium.new_context(viewport=NARROW)
    page = context.new_page()
    try:
        page.goto(stack.url("/"))
        sign_in_with_password(page, name, password)
        page.wait_for_url(stack.url("/"))
        session = _session_shown(page)
        # The app's home page says nothing of factors it cannot know: the account page does.
        page.get_by_role("link", name="Two-step sign-in").click()
        page.wait_for_url(stack.url("/auth/account#factors-heading"))
        page.locator("#factor-totp").get_by_role("link", name="Set up").click()
        app = _enrol_here(page)

        page.goto(stack.url("/admin/"))
        page.wait_for_url(stack.url(STEP_UP))
        assert page.get_by_role("heading", name="Confirm it's you").is_visible()
        page.get_by_label("Code from your authenticator app, or a recovery code").fill(
            app.wrong_code()
        )
        page.get_by_role("button", name="Confirm").click()
        alert = page.get_by_role("alert")
        alert.wait_for()
        assert "not right" in alert.inner_text()
        page.get_by_label("Code from your authenticator app, or a recovery code").fill(app.code())
        page.get_by_role("button", name="Confirm").click()

        page.wait_for_url(stack.url("/admin/"))
        assert page.get_by_role("heading", name="Admin area").is_visible()
        assert page.locator("#user").inner_text() == name
        page.goto(stack.url("/"))
        assert _session_shown(page) == session
    except BaseException:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise
    finally:
        context.close()


def test_browser_without_a_factor_sets_one_up_from_the_step_up_and_arrives(
    stack: Stack, chromium: Browser, tmp_path: Path
) -> None:
    name, password = _admin(stack)
    context = chromium.new_context(viewport=NARROW)
    page = context.new_page()
    try:
        page.goto(stack.url("/admin/"))
        sign_in_with_password(page, name, password)
        page.wait_for_url(stack.url(STEP_UP))
        page.get_by_role("link", name="Set up an authenticator app").click()
        _enrol_here(page)
        page.get_by_role("link", name="Continue").click()

        page.wait_for_url(stack.url("/admin/"))
        assert page.get_by_role("heading", name="Admin area").is_visible()
        assert page.locator("#user").inner_text() == name
    except BaseException:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise
    finally:
        context.close()
