"""The step-up flow through real nginx: a session that falls short of a location is sent
through the missing step and back, strengthened in place (same session id, amr only grows).

`/step-up/mfa` asks `mfa` and `/step-up/recent` `max_age=10` (nginx/demo.conf.template); both
serve the app's header echo. A password-only session of an enrolled user is what a browser
holds when it signed in before enrolling TOTP on the account page.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING
from urllib.parse import quote

import jwt
import pytest
import requests
from e2e_helpers import PAGE_HEADERS, TIMEOUT, new_user, set_cookie_headers, set_cookies
from factor_helpers import Authenticator, enrol, page_secret
from session_helpers import store_session

from verifier.factors.methods import PASSWORD, TOTP
from verifier.sessions.store import NewSession

if TYPE_CHECKING:
    from conftest import Stack

MFA_PATH = "/step-up/mfa"
RECENT_PATH = "/step-up/recent"
# Bounds a redirect chain: the location, /auth/unauthorized's redirect, the step-up page.
MAX_HOPS = 3


def _step_up_url(step: str, next_path: str) -> str:
    return f"/auth/login?step_up={step}&next={quote(next_path, safe='/')}"


def _claims(token: str) -> dict[str, object]:
    # Only to read what the cookie says; the verifier verifies it on every request.
    claims: dict[str, object] = jwt.decode(token, options={"verify_signature": False})
    return claims


def _password_session(stack: Stack, label: str = "stepflow") -> tuple[str, requests.Session]:
    """A user signed in with the password form (no factor yet)."""
    name, password = new_user(stack, label)
    return name, stack.login(name, password)


def _enrolled_password_session(stack: Stack) -> tuple[str, requests.Session, Authenticator]:
    """A password-only session whose user then enrolled TOTP on the account page."""
    name, browser = _password_session(stack)
    app, _codes = enrol(stack, browser)
    return name, browser, app


def _browser_with(stack: Stack, session: NewSession) -> requests.Session:
    browser = stack.new_session()
    browser.cookies.set(stack.refresh_cookie, str(session.refresh_token), path="/")
    return browser


def _session_id(stack: Stack, browser: requests.Session) -> str:
    return str(browser.cookies.get(stack.refresh_cookie)).rsplit(".", 2)[1]


def _get(browser: requests.Session, stack: Stack, path: str, **headers: str) -> requests.Response:
    return browser.get(stack.url(path), headers=headers, allow_redirects=False, timeout=TIMEOUT)


def _post(
    browser: requests.Session, stack: Stack, url: str, fields: dict[str, str], **headers: str
) -> requests.Response:
    return browser.post(
        stack.url(url),
        data=fields,
        headers={**PAGE_HEADERS, **headers},
        allow_redirects=False,
        timeout=TIMEOUT,
    )


# --- mfa -------------------------------------------------------------------------------------


def test_a_password_session_steps_up_with_a_code_and_lands_where_it_was_going(
    stack: Stack,
) -> None:
    user, browser, app = _enrolled_password_session(stack)
    session_id = _session_id(stack, browser)
    target = MFA_PATH + "?report=q3"

    sent = _get(browser, stack, target, **PAGE_HEADERS)
    assert sent.status_code == 302
    step_up = sent.headers["Location"]
    assert step_up == _step_up_url("mfa", target)
    page = _get(browser, stack, step_up, **PAGE_HEADERS)
    assert page.status_code == 200
    assert "Confirm it&#x27;s you" in page.text or "Confirm it's you" in page.text
    assert 'name="code"' in page.text
    assert 'name="password"' not in page.text

    done = _post(browser, stack, step_up, {"code": app.code(), "next": target})

    assert done.status_code == 303, done.text
    assert done.headers["Location"] == target
    cookies = set_cookies(done)
    # Only the access token changes: the same session, its refresh token untouched.
    assert set(cookies) == {stack.access_cookie}
    claims = _claims(cookies[stack.access_cookie])
    assert claims["amr"] == [PASSWORD, TOTP]
    assert claims["sid"] == session_id
    arrived = _get(browser, stack, target, **PAGE_HEADERS)
    assert arrived.status_code == 200
    assert arrived.json()["x-auth-user"] == user
    assert arrived.json()["x-auth-session"] == session_id


def test_a_wrong_code_is_401_sets_nothing_and_keeps_next(stack: Stack) -> None:
    _user, browser, app = _enrolled_password_session(stack)
    step_up = _step_up_url("mfa", MFA_PATH)

    wrong = _post(browser, stack, step_up, {"code": app.wrong_code(), "next": MFA_PATH})

    assert wrong.status_code == 401
    assert set_cookie_headers(wrong) == []
    assert "That code is not right" in wrong.text
    assert f'value="{MFA_PATH}"' in wrong.text
    assert f'action="{step_up}"'.replace("&", "&amp;") in wrong.text
    assert _get(browser, stack, MFA_PATH, **PAGE_HEADERS).status_code == 302
    # The same form, with a right code now, still goes where the visitor was going.
    right = _post(browser, stack, step_up, {"code": app.code(), "next": MFA_PATH})
    assert right.status_code == 303
    assert right.headers["Location"] == MFA_PATH


def test_a_replayed_code_is_refused(stack: Stack) -> None:
    user, browser, app = _enrolled_password_session(stack)
    other = _browser_with(stack, store_session(stack, user, [PASSWORD]))
    code = app.code()
    step_up = _step_up_url("mfa", MFA_PATH)

    first = _post(browser, stack, step_up, {"code": code})
    replayed = _post(other, stack, step_up, {"code": code})

    assert first.status_code == 303
    assert replayed.status_code == 401
    assert set_cookie_headers(replayed) == []
    assert _get(other, stack, MFA_PATH, **PAGE_HEADERS).status_code == 302


def test_a_recovery_code_steps_up_too(stack: Stack) -> None:
    name, browser = _password_session(stack)
    _app, codes = enrol(stack, browser)

    done = _post(browser, stack, _step_up_url("mfa", MFA_PATH), {"code": codes[0]})

    assert done.status_code == 303
    assert _claims(set_cookies(done)[stack.access_cookie])["amr"] == [PASSWORD, "rcv"]
    assert _get(browser, stack, MFA_PATH).json()["x-auth-user"] == name


def test_wrong_step_up_codes_count_in_the_second_factor_throttle(stack: Stack) -> None:
    _user, browser, app = _enrolled_password_session(stack)
    step_up = _step_up_url("mfa", MFA_PATH)

    answers = [
        _post(browser, stack, step_up, {"code": app.wrong_code()}).status_code for _ in range(6)
    ]

    # The per-account limit (5 by default) applies as at the sign-in's code step.
    assert answers == [401] * 5 + [429]
    throttled = _post(browser, stack, step_up, {"code": app.code()})
    assert throttled.status_code == 429
    assert set_cookie_headers(throttled) == []
    assert int(throttled.headers["Retry-After"]) > 0


def test_following_redirects_ends_on_the_step_up_page_without_a_loop(stack: Stack) -> None:
    _user, browser, _app = _enrolled_password_session(stack)
    browser.max_redirects = MAX_HOPS

    landed = browser.get(stack.url(MFA_PATH), headers=PAGE_HEADERS, timeout=TIMEOUT)

    assert landed.status_code == 200
    assert landed.url == stack.url(_step_up_url("mfa", MFA_PATH))
    assert len(landed.history) <= MAX_HOPS
    assert 'name="code"' in landed.text


def test_without_a_live_session_the_step_up_url_is_a_normal_sign_in(stack: Stack) -> None:
    page = requests.get(
        stack.url(_step_up_url("mfa", MFA_PATH)), headers=PAGE_HEADERS, timeout=TIMEOUT
    )

    assert page.status_code == 200
    assert 'name="username"' in page.text
    assert f'value="{MFA_PATH}"' in page.text


def test_a_user_without_a_factor_is_sent_to_enrol_and_the_enrolment_steps_up(
    stack: Stack,
) -> None:
    _name, browser = _password_session(stack)
    session_id = _session_id(stack, browser)

    page = _get(browser, stack, _step_up_url("mfa", MFA_PATH), **PAGE_HEADERS)
    refused = _post(browser, stack, _step_up_url("mfa", MFA_PATH), {"code": "123456"})
    enrol_url = f"/auth/account/totp?next={MFA_PATH}"
    assert page.status_code == 200
    assert f'href="{enrol_url}"' in page.text
    assert refused.status_code == 409
    assert set_cookie_headers(refused) == []

    shown = _get(browser, stack, enrol_url, **PAGE_HEADERS)
    assert f'action="{enrol_url}"' in shown.text
    secret = page_secret(shown.text)
    confirmed = _post(
        browser, stack, enrol_url, {"action": "confirm", "code": Authenticator(secret).code()}
    )

    assert confirmed.status_code == 200
    assert f'<a class="button-link continue" href="{MFA_PATH}">Continue</a>' in confirmed.text
    access = set_cookies(confirmed)[stack.access_cookie]
    assert (_claims(access)["amr"], _claims(access)["sid"]) == ([PASSWORD, TOTP], session_id)
    assert _get(browser, stack, MFA_PATH, **PAGE_HEADERS).status_code == 200


# --- max_age ---------------------------------------------------------------------------------


def test_an_old_sign_in_steps_up_with_the_password_and_auth_time_moves_forward(
    stack: Stack,
) -> None:
    name, password = new_user(stack, "recent")
    old = store_session(stack, name, [PASSWORD], time.time() - 11 * 60)
    browser = _browser_with(stack, old)
    sent = _get(browser, stack, RECENT_PATH, **PAGE_HEADERS)
    assert sent.headers["Location"] == _step_up_url("max_age", RECENT_PATH)
    page = _get(browser, stack, sent.headers["Location"], **PAGE_HEADERS)
    assert 'name="password"' in page.text
    assert 'name="code"' not in page.text
    before = int(time.time())

    wrong = _post(browser, stack, sent.headers["Location"], {"password": password + "x"})
    done = _post(browser, stack, sent.headers["Location"], {"password": password})

    assert wrong.status_code == 401
    assert set_cookie_headers(wrong) == []
    assert done.status_code == 303
    assert done.headers["Location"] == RECENT_PATH
    claims = _claims(set_cookies(done)[stack.access_cookie])
    assert claims["sid"] == old.session_id
    assert claims["amr"] == [PASSWORD]
    assert isinstance(claims["auth_time"], int)
    assert claims["auth_time"] >= before
    assert _get(browser, stack, RECENT_PATH).status_code == 200


def test_an_enrolled_user_steps_up_an_old_sign_in_with_password_and_code(stack: Stack) -> None:
    name, password = new_user(stack, "recent2f")
    browser = stack.login(name, password)
    app, _codes = enrol(stack, browser)
    old = store_session(stack, name, [PASSWORD, TOTP], time.time() - 11 * 60)
    browser = _browser_with(stack, old)
    step_up = _step_up_url("max_age", RECENT_PATH)

    page = _get(browser, stack, step_up, **PAGE_HEADERS)
    password_only = _post(browser, stack, step_up, {"password": password})
    done = _post(browser, stack, step_up, {"password": password, "code": app.code()})

    assert 'name="password"' in page.text
    assert 'name="code"' in page.text
    assert password_only.status_code == 400
    assert set_cookie_headers(password_only) == []
    assert done.status_code == 303
    assert _claims(set_cookies(done)[stack.access_cookie])["amr"] == [PASSWORD, TOTP]
    assert _get(browser, stack, RECENT_PATH).status_code == 200


# --- JSON clients ----------------------------------------------------------------------------


def test_a_json_client_steps_up_at_the_url_the_401_named(stack: Stack) -> None:
    _user, browser, app = _enrolled_password_session(stack)
    refused = _get(browser, stack, MFA_PATH, Accept="application/json")
    assert refused.status_code == 401
    url = refused.json()["step_up"]

    asked = _get(browser, stack, url, Accept="application/json")
    wrong = browser.post(
        stack.url(url),
        json={"code": app.wrong_code()},
        headers={"Accept": "application/json"},
        timeout=TIMEOUT,
    )
    done = browser.post(
        stack.url(url),
        json={"code": app.code()},
        headers={"Accept": "application/json"},
        timeout=TIMEOUT,
    )

    assert asked.json() == {"step_up": "mfa", "needs": ["code"]}
    assert wrong.status_code == 401
    assert wrong.json() == {"error": "That code is not right, or was already used.", "step_up": url}
    assert done.status_code == 200
    assert done.json() == {"stepped_up": True, "amr": [PASSWORD, TOTP], "next": MFA_PATH}
    assert set(set_cookies(done)) == {stack.access_cookie}
    assert _get(browser, stack, MFA_PATH, Accept="application/json").status_code == 200


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{"Sec-Fetch-Site": "cross-site"}, {"Origin": "http://evil.example"}],
    ids=["sec-fetch-site", "origin"],
)
def test_a_cross_site_step_up_post_is_refused(stack: Stack, headers: dict[str, str]) -> None:
    _user, browser, app = _enrolled_password_session(stack)

    answer = _post(browser, stack, _step_up_url("mfa", MFA_PATH), {"code": app.code()}, **headers)

    assert answer.status_code == 403
    assert answer.text == "Cross-site request refused.\n"
    assert set_cookie_headers(answer) == []
    assert _get(browser, stack, MFA_PATH, **PAGE_HEADERS).status_code == 302


def test_a_password_sign_in_never_replaces_a_two_factor_session_by_a_weaker_one(
    stack: Stack,
) -> None:
    name, password = new_user(stack, "noweaker")
    browser = stack.login(name, password)
    app, _codes = enrol(stack, browser)
    strong = store_session(stack, name, [PASSWORD, TOTP])
    browser = _browser_with(stack, strong)

    again = browser.post(
        stack.url("/auth/login"),
        data={"username": name, "password": password, "next": MFA_PATH},
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    # An enrolled user's password alone makes no session: the second step is asked, and the
    # two-factor session the browser holds is left as it was.
    assert again.status_code == 303
    assert again.headers["Location"] == "/auth/login/factor"
    assert not {stack.access_cookie, stack.refresh_cookie} & set(set_cookies(again))
    assert _get(browser, stack, MFA_PATH).status_code == 200
    assert app.secret
