"""Single sign-on in a real Chromium: one sign-in on the portal, then three app hosts on two
root domains, a hostile sibling's cookie tossing, and one logout for all."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from browser_helpers import launch_chromium, sign_in_with_password
from sso_helpers import EVIL, GRAFANA, ORG2, PASSWORD, PORTAL, WIKI

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page
    from sso_helpers import SsoStack

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright (no browser download)."""
    yield from launch_chromium()


def _user_on(page: Page) -> str:
    # /api/headers is the demo app's echo of what nginx handed it, shown as JSON text.
    seen: dict[str, str] = json.loads(page.inner_text("body"))
    return seen["x-auth-user"]


def test_browser_signs_in_once_and_enters_three_hosts_on_two_root_domains(
    sso_stack: SsoStack, browser: Browser
) -> None:
    port = sso_stack.port

    def url(host: str, path: str) -> str:
        return f"http://{host}:{port}{path}"

    context = browser.new_context()
    page = context.new_page()
    page.goto(url(WIKI, "/api/headers"))
    # Signed out on wiki: the sign-in happens on the portal.
    assert page.url.startswith(url(PORTAL, "/auth/login?next=/auth/sso/authorize"))
    sign_in_with_password(page, "bob", PASSWORD)
    page.wait_for_url(url(WIKI, "/api/headers"))
    assert _user_on(page) == "bob"

    # Another host of the same parent, then another root domain: no password asked.
    for host in (GRAFANA, ORG2):
        page.goto(url(host, "/api/headers"))
        assert page.url == url(host, "/api/headers")
        assert _user_on(page) == "bob"

    # Every cookie of ours is host-only and __Host-: none for a parent domain.
    ours = [c for c in context.cookies() if c["domain"].lstrip(".") != "corp.localhost"]
    assert {c["domain"] for c in ours} == {PORTAL, WIKI, GRAFANA, ORG2}
    assert all(c["name"].startswith("__Host-") and c["secure"] for c in ours)

    # A hostile sibling tosses cookies at corp.localhost: Chromium refuses the __Host- ones,
    # keeps the others, and sends them to wiki beside ours. Nothing changes.
    page.goto(url(EVIL, "/"))
    tossed = [c for c in context.cookies() if c["domain"] == ".corp.localhost"]
    assert tossed and not any(c["name"].startswith("__Host-") for c in tossed)
    page.goto(url(WIKI, "/api/headers"))
    assert page.url == url(WIKI, "/api/headers")
    assert _user_on(page) == "bob"

    # Sign out on grafana (a same-origin POST, as its pages would make it): every host and
    # the portal are signed out.
    page.goto(url(GRAFANA, "/api/headers"))
    status = page.evaluate(
        "fetch('/auth/logout', {method: 'POST', headers: {'Accept': 'application/json'}})"
        ".then(r => r.status)"
    )
    assert status == 200
    page.goto(url(ORG2, "/api/headers"))
    assert page.url.startswith(url(PORTAL, "/auth/login"))
    assert page.get_by_label("Password").is_visible()
    context.close()
