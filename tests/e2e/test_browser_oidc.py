"""Sign-in at a real OpenID Provider in a real Chromium: from a protected page, the provider's
button on our sign-in page, the provider's own login and consent pages, and back to the page
asked for, signed in; the flow's binding cookie as the browser stores it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from browser_helpers import launch_chromium
from oidc_fixtures import PROVIDER_ID, OidcWorld

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright (no browser download)."""
    yield from launch_chromium()


def test_chromium_signs_in_through_the_providers_pages_and_lands_where_it_asked(
    oidc: OidcWorld, browser: Browser
) -> None:
    stack = oidc.stack
    context = browser.new_context()
    page = context.new_page()
    page.goto(stack.url("/api/headers?from=chromium"))
    assert page.url.startswith(stack.url("/auth/login"))

    page.get_by_role(
        "link", name=f"Sign in with the test provider {PROVIDER_ID}", exact=True
    ).click()
    # The provider's pages (oidc-provider's devInteractions): its login, then its consent.
    page.wait_for_url(f"{oidc.provider.issuer}/**")
    (binding,) = [c for c in context.cookies() if c["name"] == "verifier-oidc"]
    assert binding["httpOnly"] and binding["sameSite"] == "Lax" and binding["path"] == "/"
    page.fill('input[name="login"]', "sub-ophelia")
    page.fill('input[name="password"]', "any")
    page.click('button[type="submit"]')
    page.wait_for_selector('button[type="submit"]')
    page.click('button[type="submit"]')

    page.wait_for_url(stack.url("/api/headers?from=chromium"))
    seen: dict[str, str] = json.loads(page.inner_text("body"))
    assert seen["x-auth-user"] == "ophelia"
    # The flow's cookie is gone; the session's two are there, and nothing of the provider's
    # tokens is in any cookie of ours.
    ours = {c["name"]: c for c in context.cookies() if c["domain"] == "127.0.0.1"}
    assert "verifier-oidc" not in ours
    assert {"verifier-access", "verifier-refresh"} <= set(ours)
    context.close()
