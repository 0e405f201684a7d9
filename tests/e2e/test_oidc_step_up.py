"""`max_age` step-up for a user of a real OpenID Provider: the step-up page sends them to the
provider with `prompt=login` and `max_age=0`, the provider asks for the password again, and
the callback strengthens the SAME session (auth_time moved, no new refresh cookie). The
provider signing in someone else ends in 403 with nothing set."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from conftest import Stack
from e2e_helpers import TIMEOUT, set_cookie_headers, wait_until
from oidc_fixtures import PROVIDER_ID, OidcWorld, callback_url, sign_in, sign_in_at_provider

pytestmark = pytest.mark.one_nginx

NEXT = "/api/headers"


def _signed_in(world: OidcWorld, sub: str) -> requests.Session:
    browser = world.stack.new_session()
    answer = sign_in(browser, world.stack, sub)
    assert answer.status_code == 303, answer.text[:300]
    return browser


def _access(stack: Stack, browser: requests.Session) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(
        browser.cookies[stack.access_cookie], options={"verify_signature": False}
    )
    return claims


def _step_up_page(stack: Stack, browser: requests.Session) -> requests.Response:
    return browser.get(
        stack.url("/auth/login"),
        params={"step_up": "max_age", "next": NEXT},
        allow_redirects=False,
        timeout=TIMEOUT,
    )


def test_a_provider_user_steps_up_max_age_at_the_provider_in_the_same_session(
    oidc: OidcWorld,
) -> None:
    stack = oidc.stack
    browser = _signed_in(oidc, "sub-otto")
    before = _access(stack, browser)
    # auth_time counts whole seconds: a step-up in the same second could not move it.
    wait_until(lambda: int(time.time()) > before["auth_time"], "the next second")

    page = _step_up_page(stack, browser)
    assert page.status_code == 303
    start = urlsplit(page.headers["Location"])
    assert start.path == f"/auth/oidc/{PROVIDER_ID}/start"
    assert parse_qs(start.query) == {"step_up": ["max_age"], "next": [NEXT]}
    to_provider = browser.get(stack.url(page.headers["Location"]), allow_redirects=False)
    assert to_provider.status_code == 303
    asked = parse_qs(urlsplit(to_provider.headers["Location"]).query)
    assert asked["prompt"] == ["login"] and asked["max_age"] == ["0"]

    redirect = sign_in_at_provider(browser, stack, "sub-otto", NEXT, step_up="max_age")
    back = browser.get(callback_url(redirect), allow_redirects=False, timeout=TIMEOUT)
    assert back.status_code == 303 and back.headers["Location"] == NEXT
    set_cookies = " ".join(set_cookie_headers(back))
    assert f"{stack.access_cookie}=" in set_cookies
    assert f"{stack.refresh_cookie}=" not in set_cookies
    after = _access(stack, browser)
    assert after["sid"] == before["sid"] and after["sub"] == before["sub"]
    assert after["auth_time"] > before["auth_time"]
    assert browser.get(stack.url(NEXT), timeout=TIMEOUT).json()["x-auth-user"] == "otto"


def test_a_step_up_where_the_provider_signs_in_someone_else_is_refused_with_403(
    oidc: OidcWorld,
) -> None:
    stack = oidc.stack
    browser = _signed_in(oidc, "sub-ophelia")
    before = _access(stack, browser)
    # Another provider session (its cookies dropped): else the provider would end
    # ophelia's there, and its back-channel logout ours, before the callback.
    ours = {stack.access_cookie, stack.refresh_cookie}
    for cookie in [cookie for cookie in browser.cookies if cookie.name not in ours]:
        browser.cookies.clear(cookie.domain, cookie.path, cookie.name)

    redirect = sign_in_at_provider(browser, stack, "sub-oscar", NEXT, step_up="max_age")
    back = browser.get(callback_url(redirect), allow_redirects=False, timeout=TIMEOUT)
    assert back.status_code == 403
    set_cookies = " ".join(set_cookie_headers(back))
    assert f"{stack.access_cookie}=" not in set_cookies
    assert f"{stack.refresh_cookie}=" not in set_cookies
    assert _access(stack, browser) == before


def test_a_step_up_start_without_a_session_is_an_ordinary_sign_in(oidc: OidcWorld) -> None:
    browser = oidc.stack.new_session()
    start = browser.get(
        oidc.stack.url(f"/auth/oidc/{PROVIDER_ID}/start"),
        params={"step_up": "max_age", "next": NEXT},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert start.status_code == 303
    asked = parse_qs(urlsplit(start.headers["Location"]).query)
    assert "prompt" not in asked and "max_age" not in asked
