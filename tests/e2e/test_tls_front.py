"""The production cookies through nginx with TLS in front, and as Chromium stores them.

Every other stack runs on plain http with VERIFIER_COOKIE_SECURE=false. Here nginx answers
https only, with a certificate a throwaway CA signed (`tls_stack` in conftest.py), the
clients trust that CA, and the verifier keeps its default: `__Host-` token cookies, Secure,
and a `__Secure-` pending cookie. The standalone suite's own tests of sign-in, silent
refresh, grace, logout and the Set-Cookie attributes run again on it (imported below: in
this module `stack` is the TLS stack); a second factor and the cookies a real browser keeps
are tested here.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import jwt
import pytest
import requests
from browser_helpers import launch_chromium, sign_in_with_password
from e2e_helpers import (
    TIMEOUT,
    cookie_header,
    expired_access_token,
    get_page,
    new_user,
    set_cookie_headers,
    set_cookies,
    sign_in,
)
from factor_helpers import FACTOR_PATH, enrolled_user, pending_value, post_code
from test_attack_cookie_attributes import test_every_set_cookie_has_safe_attributes  # noqa: F401
from test_login import (  # noqa: F401
    test_cross_site_login_is_refused,
    test_form_login_redirects_to_next_with_both_cookies,
    test_json_login_answers_json_with_both_cookies,
    test_json_login_failures_have_one_body,
    test_login_never_reuses_cookies_it_arrived_with,
    test_same_origin_browser_login_is_accepted,
    test_signed_out_page_navigation_lands_on_login_and_back,
)
from test_logout import (  # noqa: F401
    test_cross_site_logout_is_refused_and_the_session_survives,
    test_form_logout_redirects_to_the_login_page,
    test_logout_clears_both_cookies_with_max_age_zero,
    test_logout_everywhere_ends_every_session_of_the_user_only,
    test_logout_makes_the_old_tokens_fail_long_before_they_expire,
    test_logout_with_only_the_refresh_cookie_ends_the_session,
)
from test_second_factor_signin import (  # noqa: F401
    test_enrolled_user_signs_in_with_the_password_then_a_totp_code,
    test_replayed_totp_code_is_refused_without_a_session,
)
from test_silent_refresh import (  # noqa: F401
    test_previous_refresh_token_inside_grace_gets_an_access_token_only,
    test_refresh_token_reused_after_grace_window_revokes_the_session,
    test_rotation_replaces_the_refresh_token_and_keeps_the_session,
    test_twenty_parallel_requests_with_one_expired_token_all_succeed,
)

from tests.parts import require

if TYPE_CHECKING:
    from conftest import Stack
    from playwright.sync_api import Browser, BrowserContext

# The cookies the verifier sets with its production settings.
ACCESS = "__Host-verifier-access"
REFRESH = "__Host-verifier-refresh"
PENDING = "__Secure-verifier-pending"


@pytest.fixture(scope="session")
def stack(tls_stack: Stack) -> Iterator[Stack]:
    """The imported tests' `stack`: here, the one with TLS in front."""
    yield tls_stack


def _attributes(line: str) -> tuple[str, dict[str, str]]:
    pair, *parts = (part.strip() for part in line.split(";"))
    attributes = {}
    for part in parts:
        key, _, value = part.partition("=")
        attributes[key.lower()] = value
    return pair.split("=", 1)[0], attributes


def test_the_stack_speaks_https_only_with_the_production_cookie_names(stack: Stack) -> None:
    assert stack.base_url.startswith("https://")
    assert "VERIFIER_COOKIE_SECURE" not in stack.env  # the default: true
    assert (stack.access_cookie, stack.refresh_cookie) == (ACCESS, REFRESH)
    # A client that does not trust the throwaway CA gets no further than the handshake.
    untrusting = requests.Session()
    untrusting.trust_env = False  # not REQUESTS_CA_BUNDLE, which the tls_stack points at its CA
    with pytest.raises(requests.exceptions.SSLError):
        untrusting.get(stack.url("/auth/login"), verify=True, timeout=TIMEOUT)
    plain = stack.url("/auth/login").replace("https://", "http://")
    answer = requests.get(plain, timeout=TIMEOUT)
    assert answer.status_code == 400  # nginx: "plain HTTP request was sent to HTTPS port"
    assert set_cookie_headers(answer) == []


def test_sign_in_sets_host_prefixed_secure_cookies_through_nginx(stack: Stack) -> None:
    name, password = new_user(stack, "tls")
    response = requests.post(
        stack.url("/auth/login"),
        data={"username": name, "password": password},
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert response.status_code == 303
    cookies = dict(_attributes(line) for line in set_cookie_headers(response))
    assert set(cookies) == {ACCESS, REFRESH}
    for attributes in cookies.values():
        assert {"path": "/", "secure": "", "httponly": "", "samesite": "Lax"}.items() <= (
            attributes.items()
        )
        assert "domain" not in attributes
        assert int(attributes["max-age"]) > 0


def test_a_silent_refresh_through_nginx_hands_back_host_prefixed_secure_cookies(
    stack: Stack,
) -> None:
    signed = sign_in(stack, *new_user(stack, "tls-refresh"))
    expired = expired_access_token(stack, signed.name, signed.session_id)

    response = get_page(stack, cookie=cookie_header(stack, expired, signed.refresh))

    assert response.status_code == 200
    assert response.json()["user"] == signed.name
    cookies = dict(_attributes(line) for line in set_cookie_headers(response))
    assert set(cookies) == {ACCESS, REFRESH}
    for attributes in cookies.values():
        assert {"path": "/", "secure": "", "httponly": "", "samesite": "Lax"}.items() <= (
            attributes.items()
        )
        assert "domain" not in attributes
    assert set_cookies(response)[REFRESH] != signed.refresh
    assert "no-store" in response.headers["Cache-Control"]


def test_the_second_factor_runs_on_a_secure_pending_cookie(stack: Stack) -> None:
    user = enrolled_user(stack, "tls-totp")
    session = stack.new_session()
    password = session.post(
        stack.url("/auth/login"),
        data={"username": user.name, "password": user.password, "next": "/api/whoami"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert password.status_code == 303
    assert password.headers["Location"] == FACTOR_PATH
    ((name, attributes),) = [_attributes(line) for line in set_cookie_headers(password)]
    assert name == PENDING
    assert {"path": "/auth/", "secure": "", "httponly": "", "samesite": "Strict"}.items() <= (
        attributes.items()
    )
    assert pending_value(session)

    signed_in = post_code(session, stack, code=user.app.code())

    assert signed_in.status_code == 303
    assert set_cookies(signed_in) == {
        ACCESS: session.cookies[ACCESS],
        REFRESH: session.cookies[REFRESH],
        PENDING: "",
    }
    whoami = session.get(
        stack.url("/api/whoami"), headers={"Accept": "application/json"}, timeout=TIMEOUT
    )
    assert whoami.status_code == 200, whoami.text
    # The new access token says both factors (read unverified: its signature is the
    # verifier's business, checked by every other test).
    claims = jwt.decode(session.cookies[ACCESS], options={"verify_signature": False})
    assert claims["amr"] == ["pwd", "otp"]


# --- in Chromium -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def trusting_chromium(
    tls_stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Browser]:
    """Chromium with the stack's CA among the authorities it trusts, in an NSS database of
    its own (the one Chromium reads on Linux, under $HOME/.pki/nssdb)."""
    assert tls_stack.ca_file is not None
    home = tmp_path_factory.mktemp("chromium-home")
    database = home / ".pki" / "nssdb"
    database.mkdir(parents=True)
    certutil = require("certutil")
    subprocess.run(
        [certutil, "-N", "-d", f"sql:{database}", "--empty-password"], check=True, timeout=60
    )
    # -t "C,,": a certificate authority trusted to issue server certificates.
    trust = ["-A", "-n", "verifier test CA", "-t", "C,,", "-i", str(tls_stack.ca_file)]
    subprocess.run([certutil, "-d", f"sql:{database}", *trust], check=True, timeout=60)
    yield from launch_chromium(env={"HOME": str(home)})


def _stored(context: BrowserContext) -> dict[str, dict[str, Any]]:
    return {cookie["name"]: dict(cookie) for cookie in context.cookies()}


def _assert_host_cookie(stored: dict[str, Any], stack: Stack, lifetime_seconds: float) -> None:
    # As Chromium keeps it: for this host alone (no leading dot: no subdomain gets it), the
    # whole site, never to scripts, only over TLS, not on cross-site subrequests, and for no
    # longer than the token it holds.
    assert stored["domain"] == "localhost", stored
    assert stored["path"] == "/", stored
    assert stored["secure"] is True, stored
    assert stored["httpOnly"] is True, stored
    assert stored["sameSite"] == "Lax", stored
    assert time.time() < stored["expires"] <= time.time() + lifetime_seconds + 1, stored


@pytest.mark.browser
@pytest.mark.one_nginx
def test_chromium_keeps_the_production_cookies_through_sign_in_refresh_factor_and_logout(
    stack: Stack, trusting_chromium: Browser
) -> None:
    user = enrolled_user(stack, "tls-browser")
    context = trusting_chromium.new_context()
    page = context.new_page()
    try:
        # A second factor: the pending cookie, for the verifier's pages only.
        page.goto(stack.localhost_url("/"))
        assert page.url.startswith(stack.localhost_url("/auth/login"))
        sign_in_with_password(page, user.name, user.password)
        page.wait_for_url(stack.localhost_url(FACTOR_PATH))
        pending = _stored(context)[PENDING]
        assert (pending["domain"], pending["path"]) == ("localhost", "/auth/"), pending
        assert (pending["secure"], pending["httpOnly"], pending["sameSite"]) == (
            True,
            True,
            "Strict",
        )
        page.get_by_label("Code from your authenticator app").fill(user.app.code())
        page.get_by_role("button", name="Verify").click()
        page.wait_for_url(stack.localhost_url("/"))
        assert page.locator("#user").inner_text() == user.name

        stored = _stored(context)
        assert set(stored) == {ACCESS, REFRESH}  # the pending cookie is gone
        _assert_host_cookie(stored[ACCESS], stack, stack.access_ttl_seconds)
        session_seconds = int(stack.env.get("VERIFIER_SESSION_ABSOLUTE_SECONDS", 30 * 86_400))
        _assert_host_cookie(stored[REFRESH], stack, session_seconds)

        # A silent refresh: the access cookie now holds a token that has expired, as the
        # browser would keep it no longer; the next page comes with both cookies rotated.
        session_id = stored[REFRESH]["value"].rsplit(".", 2)[1]
        expired = expired_access_token(stack, user.name, session_id)
        context.add_cookies(
            [
                {
                    "name": ACCESS,
                    "value": expired,
                    "url": stack.localhost_url("/"),
                    "secure": True,
                    "httpOnly": True,
                    "sameSite": "Lax",
                }
            ]
        )
        page.goto(stack.localhost_url("/"))
        assert page.url == stack.localhost_url("/")
        assert page.locator("#user").inner_text() == user.name
        refreshed = _stored(context)
        # A new access token (not the expired one; it may equal the sign-in's own, byte for
        # byte, when both were issued within the same second), and a rotated refresh token.
        assert refreshed[ACCESS]["value"] != expired
        assert refreshed[REFRESH]["value"] != stored[REFRESH]["value"]
        _assert_host_cookie(refreshed[ACCESS], stack, stack.access_ttl_seconds)
        _assert_host_cookie(refreshed[REFRESH], stack, session_seconds)

        page.get_by_role("button", name="Log out", exact=True).click()
        page.wait_for_url("**/auth/login?signed_out=1")
        assert _stored(context) == {}
    finally:
        context.close()
