"""A real Chromium through the stack: sign in, outlive the access token, sign out."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from browser_helpers import launch_chromium, sign_in_with_password
from e2e_helpers import new_user

if TYPE_CHECKING:
    from conftest import Stack
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright (no browser download)."""
    yield from launch_chromium()


def test_browser_signs_in_keeps_browsing_past_expiry_and_signs_out(
    expiring_stack: Stack, browser: Browser
) -> None:
    stack = expiring_stack
    name, password = new_user(stack, "browser")
    context = browser.new_context()
    page = context.new_page()

    page.goto(stack.url("/"))
    assert page.url.startswith(stack.url("/auth/login"))
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(stack.url("/"))
    assert page.locator("#user").inner_text() == name
    first_refresh = _cookie(context, stack.refresh_cookie)

    # At least the access cookie's Max-Age (and the token's life): the browser drops it.
    time.sleep(stack.access_ttl_seconds + 1)
    navigation = page.goto(stack.url("/"))

    assert page.url == stack.url("/")  # no detour through the login page
    assert page.locator("#user").inner_text() == name
    assert _cookie(context, stack.refresh_cookie) not in (None, first_refresh)
    # The new access cookie came with the page. (Whether the browser still holds it by now
    # depends on how fast the machine is: it lives 2 s.)
    assert navigation is not None
    headers = navigation.headers_array()
    set_names = [h["value"].split("=", 1)[0] for h in headers if h["name"].lower() == "set-cookie"]
    assert sorted(set_names) == sorted([stack.access_cookie, stack.refresh_cookie])

    page.get_by_role("button", name="Log out", exact=True).click()
    page.wait_for_url("**/auth/login?signed_out=1")
    assert _cookie(context, stack.access_cookie) is None
    assert _cookie(context, stack.refresh_cookie) is None
    page.goto(stack.url("/"))
    assert page.url.startswith(stack.url("/auth/login"))
    context.close()


def _cookie(context: object, name: str) -> str | None:
    for cookie in context.cookies():  # type: ignore[attr-defined]
        if cookie["name"] == name:
            value: str = cookie["value"]
            return value
    return None


def test_browser_refused_at_the_admin_area_signs_in_as_an_admin_and_is_asked_to_step_up(
    stack: Stack, browser: Browser
) -> None:
    guest, guest_password = new_user(stack, "guest")
    admin, admin_password = new_user(stack, "admin")
    assert stack.cli("users", "groups", admin, "--add", "admins").returncode == 0
    context = browser.new_context()
    page = context.new_page()

    page.goto(stack.url("/admin/"))
    sign_in_with_password(page, guest, guest_password)
    page.wait_for_url(stack.url("/admin/"))
    assert page.get_by_role("heading", name="No access").is_visible()
    assert page.locator("strong").inner_text() == guest

    page.get_by_role("button", name="Sign in as someone else").click()
    page.wait_for_url("**/auth/login?signed_out=1&next=/admin/")
    sign_in_with_password(page, admin, admin_password)

    # /admin/ asks for a second factor too: the rest of the way is test_browser_step_up.py.
    page.wait_for_url(stack.url("/auth/login?step_up=mfa&next=/admin/"))
    assert page.get_by_role("heading", name="Confirm it's you").is_visible()
    assert page.locator("strong").inner_text() == admin
    context.close()
