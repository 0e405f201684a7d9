"""The account pages for second factors, through nginx: TOTP enrolment (active only after a
right code), reset with a current code, new recovery codes for a current code, cross-site
POSTs refused, and what a visitor without a session gets."""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

import pytest
import requests
from e2e_helpers import PAGE_HEADERS, TIMEOUT, new_user, set_cookie_headers
from factor_helpers import (
    FACTOR_PATH,
    RECOVERY_PATH,
    TOTP_PATH,
    Authenticator,
    enrolled_user,
    forget_used_steps,
    page_recovery_codes,
    page_secret,
    password_step,
    post_code,
)

if TYPE_CHECKING:
    from conftest import Stack

pytestmark = pytest.mark.one_nginx

NEW_POSTS = [FACTOR_PATH, TOTP_PATH, RECOVERY_PATH]


def _post(stack: Stack, session: requests.Session, path: str, **fields: str) -> requests.Response:
    return session.post(
        stack.url(path), data=fields, headers=PAGE_HEADERS, allow_redirects=False, timeout=TIMEOUT
    )


def _signed_in(stack: Stack, name: str, password: str, app: Authenticator) -> requests.Session:
    session = password_step(stack, name, password)
    assert post_code(session, stack, code=app.code()).status_code == 303
    return session


def test_enrolment_shows_a_qr_code_and_the_secret_and_activates_only_with_a_right_code(
    stack: Stack,
) -> None:
    name, password = new_user(stack, "enrol")
    session = stack.login(name, password)

    shown = session.get(stack.url(TOTP_PATH), headers=PAGE_HEADERS, timeout=TIMEOUT)
    assert shown.status_code == 200
    assert "default-src 'none'" in shown.headers["Content-Security-Policy"]
    assert shown.headers["X-Frame-Options"] == "DENY"
    assert "<svg" in shown.text
    assert "<script" not in shown.text
    assert 'for="code"' in shown.text
    assert 'aria-live="assertive"' in shown.text
    app = Authenticator(page_secret(shown.text))
    # A reload shows the same enrolment, not a new secret.
    again = session.get(stack.url(TOTP_PATH), headers=PAGE_HEADERS, timeout=TIMEOUT)
    assert page_secret(again.text) == app.secret

    wrong = _post(stack, session, TOTP_PATH, action="confirm", code=app.wrong_code())
    assert wrong.status_code == 400
    assert "That code is not right" in wrong.text
    assert "not enrolled" in stack.cli("users", "mfa", name).stdout
    # Before the right code, the password alone still signs in.
    assert stack.login(name, password) is not None

    right = _post(stack, session, TOTP_PATH, action="confirm", code=app.code())

    assert right.status_code == 200
    assert len(set(page_recovery_codes(right.text))) == 10
    assert stack.cli("users", "mfa", name).stdout.strip() == (
        f"{name}: totp enrolled; recovery codes left: 10"
    )
    status = session.get(stack.url(TOTP_PATH), headers=PAGE_HEADERS, timeout=TIMEOUT)
    assert "is on" in status.text
    assert "<svg" not in status.text  # the secret is never shown again


def test_confirming_without_an_enrolment_in_progress_is_a_conflict(stack: Stack) -> None:
    name, password = new_user(stack, "no-enrol")
    session = stack.login(name, password)

    answer = session.post(
        stack.url(TOTP_PATH), json={"action": "confirm", "code": "123456"}, timeout=TIMEOUT
    )

    assert answer.status_code == 409
    assert "expired" in answer.json()["error"]
    unknown = _post(stack, session, TOTP_PATH, action="nonsense")
    assert unknown.status_code == 400


def test_reset_needs_a_current_code_and_the_old_app_works_until_the_new_one_is_confirmed(
    stack: Stack,
) -> None:
    user = enrolled_user(stack, "reset")
    session = _signed_in(stack, user.name, user.password, user.app)

    # A browser's first POST only asks: what a reset does, and a current code to go on.
    asked = _post(stack, session, TOTP_PATH, action="reset")
    assert asked.status_code == 200
    assert "<h1>Reset your authenticator app?</h1>" in asked.text
    assert "totp-secret" not in asked.text
    refused = _post(
        stack, session, TOTP_PATH, action="reset", confirm="yes", current_code=user.app.wrong_code()
    )
    assert refused.status_code == 403
    assert "<h1>Reset your authenticator app?</h1>" in refused.text
    assert 'role="alert">That code is not right' in refused.text
    started = _post(
        stack, session, TOTP_PATH, action="reset", confirm="yes", current_code=user.app.code()
    )
    assert started.status_code == 200
    # Steps are spent per user, whichever secret made the code.
    new_app = Authenticator(page_secret(started.text), used=user.app.used)
    assert new_app.secret != user.app.secret
    forget_used_steps(stack, user.name, user.app)
    # Not confirmed yet: the old app still signs in.
    _signed_in(stack, user.name, user.password, user.app)

    confirmed = _post(stack, session, TOTP_PATH, action="confirm", code=new_app.code())

    assert confirmed.status_code == 200
    assert "the old one no longer works" in confirmed.text
    forget_used_steps(stack, user.name, user.app)
    old = password_step(stack, user.name, user.password)
    assert post_code(old, stack, code=user.app.code()).status_code == 401
    _signed_in(stack, user.name, user.password, new_app)
    assert stack.cli("users", "unlock", user.name).returncode == 0


def test_reset_of_an_app_not_set_up_is_a_conflict(stack: Stack) -> None:
    name, password = new_user(stack, "reset-none")
    session = stack.login(name, password)

    answer = _post(stack, session, TOTP_PATH, action="reset", confirm="yes", current_code="123456")

    assert answer.status_code == 409


def test_new_recovery_codes_need_a_current_code_and_void_the_old_set(stack: Stack) -> None:
    user = enrolled_user(stack, "regen")
    session = _signed_in(stack, user.name, user.password, user.app)
    page = session.get(stack.url(RECOVERY_PATH), headers=PAGE_HEADERS, timeout=TIMEOUT)
    assert page.status_code == 200
    assert "You have 10 recovery codes left." in " ".join(page.text.split())

    refused = _post(stack, session, RECOVERY_PATH, current_code="000000")
    assert refused.status_code == 403
    empty = _post(stack, session, RECOVERY_PATH, current_code="")
    assert empty.status_code == 400
    renewed = _post(stack, session, RECOVERY_PATH, current_code=user.app.code())

    assert renewed.status_code == 200
    new_codes = page_recovery_codes(renewed.text)
    assert len(new_codes) == 10
    assert not set(new_codes) & set(user.recovery_codes)
    old = password_step(stack, user.name, user.password)
    assert post_code(old, stack, recovery_code=user.recovery_codes[0]).status_code == 401
    assert post_code(old, stack, recovery_code=new_codes[0]).status_code == 200
    assert stack.cli("users", "unlock", user.name).returncode == 0


def test_a_recovery_code_is_a_current_factor_too(stack: Stack) -> None:
    user = enrolled_user(stack, "regen-rcv")
    session = _signed_in(stack, user.name, user.password, user.app)

    renewed = _post(stack, session, RECOVERY_PATH, current_code=user.recovery_codes[0])

    assert renewed.status_code == 200
    assert len(page_recovery_codes(renewed.text)) == 10


def test_recovery_codes_without_an_app_are_a_conflict(stack: Stack) -> None:
    name, password = new_user(stack, "regen-none")
    session = stack.login(name, password)

    shown = session.get(stack.url(RECOVERY_PATH), headers=PAGE_HEADERS, timeout=TIMEOUT)
    posted = _post(stack, session, RECOVERY_PATH, current_code="123456")

    assert (shown.status_code, posted.status_code) == (409, 409)
    assert f'href="{TOTP_PATH}"' in shown.text


def test_wrong_current_codes_are_throttled_like_sign_in_codes(stack: Stack) -> None:
    user = enrolled_user(stack, "regen-throttle")
    session = _signed_in(stack, user.name, user.password, user.app)
    limit = int(stack.env.get("VERIFIER_LOGIN_MAX_FAILURES_PER_ACCOUNT", "5"))
    for _ in range(limit):
        assert _post(stack, session, RECOVERY_PATH, current_code="000000").status_code == 403

    throttled = _post(stack, session, RECOVERY_PATH, current_code=user.app.code())

    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1
    assert stack.cli("users", "unlock", user.name).returncode == 0
    forget_used_steps(stack, user.name, user.app)
    assert _post(stack, session, RECOVERY_PATH, current_code=user.app.code()).status_code == 200


@pytest.mark.parametrize("path", [TOTP_PATH, RECOVERY_PATH])
def test_account_pages_send_a_visitor_without_a_session_to_sign_in(stack: Stack, path: str) -> None:
    page = requests.get(
        stack.url(path), headers=PAGE_HEADERS, allow_redirects=False, timeout=TIMEOUT
    )
    api = requests.get(stack.url(path), headers={"Accept": "application/json"}, timeout=TIMEOUT)
    posted = requests.post(stack.url(path), json={"current_code": "123456"}, timeout=TIMEOUT)

    assert page.status_code == 303
    assert page.headers["Location"] == f"/auth/login?next={path}"
    assert api.status_code == 401
    assert posted.status_code == 401
    assert set_cookie_headers(posted) == []


CROSS_SITE = [
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Origin": "http://evil.example"},
    {"Referer": "http://evil.example/form"},
]


@pytest.mark.parametrize("path", NEW_POSTS)
def test_every_second_factor_post_refuses_cross_site_requests(stack: Stack, path: str) -> None:
    user = enrolled_user(stack, "csrf")
    # A victim with both a session and a pending sign-in in their browser.
    session = _signed_in(stack, user.name, user.password, user.app)
    pending = password_step(stack, user.name, user.password)
    session.cookies.update(pending.cookies)

    for headers in CROSS_SITE:
        answer = session.post(
            stack.url(path),
            data={"code": "123456", "current_code": "123456", "action": "reset"},
            headers=headers,
            allow_redirects=False,
            timeout=TIMEOUT,
        )

        assert answer.status_code == 403, headers
        assert answer.text == "Cross-site request refused.\n"
        assert set_cookie_headers(answer) == []
    assert (
        f"{user.name}: totp enrolled; recovery codes left: 10"
        in stack.cli("users", "mfa", user.name).stdout
    )


def test_turning_on_totp_names_the_password_only_sessions_and_its_button_ends_them(
    stack: Stack,
) -> None:
    # Issue 25, point 7: a second factor guards the sign-ins to come, not the sessions
    # that began with the password alone; the page that shows the recovery codes says so,
    # names each of them and offers to end them there.
    name, password = new_user(stack, "enrol-others")
    here = stack.login(name, password)
    elsewhere = stack.login(name, password)
    shown = here.get(stack.url(TOTP_PATH), headers=PAGE_HEADERS, timeout=TIMEOUT)
    app = Authenticator(page_secret(shown.text))

    confirmed = _post(stack, here, TOTP_PATH, action="confirm", code=app.code())

    assert confirmed.status_code == 200
    assert len(page_recovery_codes(confirmed.text)) == 10
    assert '<h2 id="others-heading">Your other sessions</h2>' in confirmed.text
    assert "signed in with a password alone and stays signed in" in confirmed.text
    named = re.search(r'<ul class="brief">\n(.*?)\n</ul>', confirmed.text, re.S)
    assert named is not None and named.group(1).count("<li>") == 1  # `elsewhere`
    offer = re.search(
        r'<form method="post" action="([^"]+)">\n<input type="hidden" name="action" '
        r'value="end_others">\n<input type="hidden" name="confirm" value="yes">',
        confirmed.text,
    )
    assert offer is not None, confirmed.text
    assert elsewhere.get(stack.url("/"), allow_redirects=False, timeout=TIMEOUT).status_code == 200

    ended = _post(stack, here, html.unescape(offer.group(1)), action="end_others", confirm="yes")

    assert ended.status_code == 303
    assert elsewhere.get(stack.url("/"), allow_redirects=False, timeout=TIMEOUT).status_code == 302
    assert here.get(stack.url("/"), allow_redirects=False, timeout=TIMEOUT).status_code == 200


def test_turning_on_totp_with_no_other_session_offers_nothing(stack: Stack) -> None:
    name, password = new_user(stack, "enrol-alone")
    here = stack.login(name, password)
    shown = here.get(stack.url(TOTP_PATH), headers=PAGE_HEADERS, timeout=TIMEOUT)
    app = Authenticator(page_secret(shown.text))

    confirmed = _post(stack, here, TOTP_PATH, action="confirm", code=app.code())

    assert len(page_recovery_codes(confirmed.text)) == 10
    assert "others-heading" not in confirmed.text
    assert 'value="end_others"' not in confirmed.text
