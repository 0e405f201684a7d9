"""`/auth/account/tokens`: a signed-in user lists, makes (after a recent sign-in) and revokes
their API tokens, through nginx; a user with TOTP has tokens like anyone else."""

from __future__ import annotations

import html
import re
import time
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest
import requests
from e2e_helpers import (
    PAGE_HEADERS,
    TIMEOUT,
    all_log_lines,
    eventually,
    new_user,
    set_cookie_headers,
)
from factor_helpers import enrol, password_step, post_code
from session_helpers import store_session
from token_helpers import ECHO, assert_refused_alone, bearer, echoed

from verifier.factors.methods import PASSWORD

if TYPE_CHECKING:
    from conftest import Stack

pytestmark = pytest.mark.one_nginx

TOKENS = "/auth/account/tokens"
STEP_UP = f"/auth/login?step_up=max_age&next={quote(TOKENS, safe='/')}"
JSON = {"Accept": "application/json"}
_SHOWN = re.compile(
    r'<input id="new-token" type="text" readonly translate="no" value="(vrf_[0-9A-Za-z]{49})">'
)
_SHOWN_ID = re.compile(r'<code id="new-token-id" translate="no">([0-9a-f]{16})</code>')


def _post(
    browser: requests.Session, stack: Stack, fields: dict[str, str], **headers: str
) -> requests.Response:
    return browser.post(
        stack.url(TOKENS),
        data=fields,
        headers={**PAGE_HEADERS, **headers},
        allow_redirects=False,
        timeout=TIMEOUT,
    )


def _create(browser: requests.Session, stack: Stack, **fields: str) -> tuple[str, str]:
    """Make a token on the page; (the token as shown once, its id)."""
    made = _post(browser, stack, {"action": "create", "name": "ci", **fields})
    assert made.status_code == 200, made.text[:500]
    token, token_id = _SHOWN.search(made.text), _SHOWN_ID.search(made.text)
    assert token is not None and token_id is not None, made.text[:800]
    return token.group(1), token_id.group(1)


def _listed(browser: requests.Session, stack: Stack) -> list[dict[str, object]]:
    answer = browser.get(stack.url(TOKENS), headers=JSON, timeout=TIMEOUT)
    assert answer.status_code == 200
    tokens: list[dict[str, object]] = answer.json()["tokens"]
    return tokens


def _browser_signed_in(stack: Stack, minutes_ago: float = 0) -> tuple[str, requests.Session]:
    """A user and a browser holding a password session that signed in `minutes_ago`."""
    name, _password = new_user(stack, "owner")
    session = store_session(stack, name, [PASSWORD], time.time() - minutes_ago * 60)
    browser = stack.new_session()
    browser.cookies.set(stack.refresh_cookie, str(session.refresh_token), path="/")
    return name, browser


def test_a_fresh_sign_in_makes_a_token_shown_once_that_works_at_once(stack: Stack) -> None:
    name, browser = _browser_signed_in(stack)
    token, token_id = _create(browser, stack, expires="30d", scope="path:/api/")
    received = echoed(bearer(stack, ECHO, token))
    assert (received["x-auth-user"], received["x-auth-token-id"]) == (name, token_id)
    (listed,) = _listed(browser, stack)
    assert (listed["id"], listed["name"], listed["scope"]) == (token_id, "ci", "path:/api/")
    assert listed["expires"] == listed["created"] + 30 * 86_400  # type: ignore[operator]
    # The list never shows the secret again, as a page or as JSON.
    page = browser.get(stack.url(TOKENS), headers=PAGE_HEADERS, timeout=TIMEOUT)
    assert token not in page.text
    assert token_id in page.text
    assert "Last used" in page.text
    # The account page counts it and links here.
    account = browser.get(stack.url("/auth/account"), headers=PAGE_HEADERS, timeout=TIMEOUT)
    assert "For scripts and services: 1 active." in account.text
    assert f'href="{TOKENS}"' in account.text
    # Its use is written within a flush (a second on these stacks).
    used = eventually(
        lambda: _listed(browser, stack)[0],
        lambda t: t["last_used"] is not None,
        what="the token's last use written",
    )
    assert isinstance(used["last_used"], int)


def test_a_json_client_makes_a_token_with_201_and_the_secret_in_the_body(stack: Stack) -> None:
    _name, browser = _browser_signed_in(stack)
    made = browser.post(
        stack.url(TOKENS),
        json={"action": "create", "name": "probe", "expires": "12h"},
        headers=JSON,
        timeout=TIMEOUT,
    )
    assert made.status_code == 201
    body = made.json()
    assert body["token"].startswith("vrf_")
    assert body["expires"] - body["created"] == 12 * 3600
    assert set_cookie_headers(made) == []
    assert made.headers["Cache-Control"] == "no-store"
    assert bearer(stack, ECHO, body["token"]).status_code == 200


def test_an_old_sign_in_is_sent_to_step_up_first_and_nothing_is_made(stack: Stack) -> None:
    name, browser = _browser_signed_in(stack, minutes_ago=11)
    sent = _post(browser, stack, {"action": "create", "name": "ci"})
    assert sent.status_code == 303
    assert sent.headers["Location"] == STEP_UP
    asked = browser.post(
        stack.url(TOKENS), json={"action": "create", "name": "ci"}, headers=JSON, timeout=TIMEOUT
    )
    assert asked.status_code == 401
    assert asked.json() == {"error": "step_up_required", "step_up": STEP_UP, "login_url": STEP_UP}
    assert _listed(browser, stack) == []
    assert stack.cli("tokens", "list", "--user", name).stdout == ""


def test_after_the_step_up_the_same_session_makes_its_token(stack: Stack) -> None:
    name, password = new_user(stack, "stepper")
    session = store_session(stack, name, [PASSWORD], time.time() - 11 * 60)
    browser = stack.new_session()
    browser.cookies.set(stack.refresh_cookie, str(session.refresh_token), path="/")
    assert _post(browser, stack, {"action": "create", "name": "ci"}).headers["Location"] == STEP_UP
    stepped = browser.post(
        stack.url(STEP_UP),
        data={"password": password},
        headers=PAGE_HEADERS,
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert stepped.status_code == 303
    assert stepped.headers["Location"] == TOKENS
    token, _token_id = _create(browser, stack)
    assert echoed(bearer(stack, ECHO, token))["x-auth-user"] == name


def test_a_user_with_totp_can_have_tokens(stack: Stack) -> None:
    name, password = new_user(stack, "totp")
    app, _codes = enrol(stack, stack.login(name, password))
    # A sign-in with the password and a code, as such a user always signs in.
    browser = password_step(stack, name, password)
    assert post_code(browser, stack, code=app.code()).status_code == 303
    token, token_id = _create(browser, stack)
    received = echoed(bearer(stack, ECHO, token))
    assert (received["x-auth-user"], received["x-auth-token-id"]) == (name, token_id)
    # The token carries no sign-in: a location that asks for a second factor refuses it,
    # however strong its owner's own sessions are.
    assert_refused_alone(bearer(stack, "/step-up/mfa", token), 403)
    assert {row["id"] for row in _listed(browser, stack)} == {token_id}


def test_revoking_a_token_on_the_page_stops_it(stack: Stack) -> None:
    _name, browser = _browser_signed_in(stack)
    token, token_id = _create(browser, stack)
    assert bearer(stack, ECHO, token).status_code == 200
    done = _post(browser, stack, {"action": "revoke", "token": token_id})
    assert done.status_code == 303
    assert done.headers["Location"] == TOKENS + "?done=revoked"
    refused = eventually(
        lambda: bearer(stack, ECHO, token),
        lambda r: r.status_code == 401,
        what="the token refused (401)",
    )
    assert_refused_alone(refused, 401)
    notice = browser.get(stack.url(done.headers["Location"]), headers=PAGE_HEADERS, timeout=TIMEOUT)
    assert "The token is revoked." in notice.text
    assert _listed(browser, stack) == []
    again = _post(browser, stack, {"action": "revoke", "token": token_id})
    assert again.status_code == 404


def test_nobody_revokes_or_sees_another_users_token(stack: Stack) -> None:
    _victim, victim_browser = _browser_signed_in(stack)
    token, token_id = _create(victim_browser, stack)
    _attacker, attacker_browser = _browser_signed_in(stack)
    assert _listed(attacker_browser, stack) == []
    refused = _post(attacker_browser, stack, {"action": "revoke", "token": token_id})
    assert refused.status_code == 404
    assert bearer(stack, ECHO, token).status_code == 200


@pytest.mark.parametrize(
    ("fields", "status", "said"),
    [
        ({"action": "create", "name": ""}, 400, "name"),
        ({"action": "create", "name": "x" * 65}, 400, "name"),
        ({"action": "create", "name": "ci", "expires": "forever"}, 400, "lifetime"),
        ({"action": "create", "name": "ci", "expires": "9999d"}, 400, "1h to 365d"),
        ({"action": "create", "name": "ci", "scope": "group:admins"}, 400, "groups you are in"),
        ({"action": "create", "name": "ci", "scope": "path:/a/../b"}, 400, "Bad scope"),
        ({"action": "revoke", "token": "not-an-id"}, 404, "No such token"),
        ({"action": "explode"}, 400, "Unknown action"),
    ],
)
def test_bad_input_is_a_clear_4xx_and_makes_nothing(
    stack: Stack, fields: dict[str, str], status: int, said: str
) -> None:
    _name, browser = _browser_signed_in(stack)
    page = _post(browser, stack, fields)
    assert page.status_code == status
    assert said in html.unescape(page.text)
    answer = browser.post(stack.url(TOKENS), json=fields, headers=JSON, timeout=TIMEOUT)
    assert answer.status_code == status
    assert said in answer.json()["error"]
    assert _listed(browser, stack) == []


def test_a_cross_site_post_is_refused_and_makes_nothing(stack: Stack) -> None:
    _name, browser = _browser_signed_in(stack)
    refused = _post(
        browser, stack, {"action": "create", "name": "ci"}, Origin="https://evil.example"
    )
    assert refused.status_code == 403
    assert _listed(browser, stack) == []


def test_without_a_session_the_page_sends_to_sign_in(stack: Stack) -> None:
    browser = stack.new_session()
    page = browser.get(
        stack.url(TOKENS), headers=PAGE_HEADERS, allow_redirects=False, timeout=TIMEOUT
    )
    assert page.status_code == 303
    assert page.headers["Location"] == f"/auth/login?next={quote(TOKENS, safe='/')}"
    api = browser.post(
        stack.url(TOKENS), json={"action": "create", "name": "x"}, headers=JSON, timeout=TIMEOUT
    )
    assert api.status_code == 401


def test_making_and_revoking_are_recorded_and_no_log_line_holds_the_token(stack: Stack) -> None:
    name, browser = _browser_signed_in(stack)
    token, token_id = _create(browser, stack, scope="path:/api/")
    bearer(stack, ECHO, token)
    bearer(stack, "/admin/", token)  # out of its scope: refused, and recorded
    _post(browser, stack, {"action": "revoke", "token": token_id})
    lines = eventually(
        lambda: all_log_lines(stack),
        lambda found: any(f"token.revoked user={name} tokens={token_id}" in x for x in found),
        what="the token.revoked record",
    )
    assert any(f"token.created user={name} token={token_id} scope=path:/api/" in x for x in lines)
    assert any(
        f"token.refused reason=out_of_scope address=127.0.0.1 user={name} token={token_id}" in x
        for x in lines
    )
    assert not any(token in line for line in lines)
