"""The second step of a sign-in, through nginx: a TOTP code or a recovery code after the
password, the pending state between the two, and the enrolment a group demands.

Users enrol on the account page (tests/e2e/factor_helpers.py reads the secret from it);
codes come from pyotp, each of a time step not used before, so no test waits on the clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import requests
from attack_helpers import assert_refused
from e2e_helpers import (
    PAGE_HEADERS,
    TIMEOUT,
    get_page,
    new_user,
    set_cookie_headers,
    set_cookies,
    wait_until,
)
from factor_helpers import (
    ENFORCED_GROUP,
    FACTOR_PATH,
    Authenticator,
    enrolled_user,
    page_recovery_codes,
    page_secret,
    password_step,
    pending_cookie_name,
    pending_key,
    pending_value,
    post_code,
    session_cookie_names,
)

from verifier.sessions.pending_signin import MAX_ATTEMPTS

if TYPE_CHECKING:
    from conftest import Stack

pytestmark = pytest.mark.one_nginx

# What is left of a pending sign-in once a test has moved its end near.
PENDING_LEFT_MS = 300


def _whoami(stack: Stack, session: requests.Session) -> requests.Response:
    return session.get(
        stack.url("/api/whoami"),
        headers={"Accept": "application/json"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )


def test_enrolled_user_signs_in_with_the_password_then_a_totp_code(stack: Stack) -> None:
    user = enrolled_user(stack)
    session = stack.new_session()
    password = session.post(
        stack.url("/auth/login"),
        data={"username": user.name, "password": user.password, "next": "/api/whoami"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert password.status_code == 303
    assert password.headers["Location"] == FACTOR_PATH
    (pending_line,) = set_cookie_headers(password)
    assert pending_line.startswith(pending_cookie_name(stack) + "=")
    attributes = {part.strip().lower() for part in pending_line.split(";")[1:]}
    assert {"path=/auth/", "httponly", "samesite=strict"} <= attributes
    assert ("secure" in attributes) is stack.secure_cookies
    # The password alone opened nothing.
    assert _whoami(stack, session).status_code == 401

    form = session.get(stack.url(FACTOR_PATH), headers=PAGE_HEADERS, timeout=TIMEOUT)
    assert form.status_code == 200
    assert "frame-ancestors 'none'" in form.headers["Content-Security-Policy"]
    assert form.headers["X-Frame-Options"] == "DENY"
    assert 'aria-live="assertive"' in form.text
    assert 'for="code"' in form.text
    assert "Use a recovery code" in form.text

    pending_id = pending_value(session)
    signed_in = post_code(session, stack, code=user.app.code())

    assert signed_in.status_code == 303
    assert signed_in.headers["Location"] == "/api/whoami"
    assert session_cookie_names(stack, signed_in) == {stack.access_cookie, stack.refresh_cookie}
    assert set_cookies(signed_in)[pending_cookie_name(stack)] == ""  # cleared
    assert not stack.redis.exists(pending_key(stack, pending_id))
    whoami = _whoami(stack, session)
    assert whoami.status_code == 200
    assert whoami.json()["user"] == user.name


def test_replayed_totp_code_is_refused_without_a_session(stack: Stack) -> None:
    user = enrolled_user(stack)
    code = user.app.code()
    first = password_step(stack, user.name, user.password)
    assert post_code(first, stack, code=code).status_code == 303

    again = password_step(stack, user.name, user.password)
    replayed = post_code(again, stack, code=code)

    assert replayed.status_code == 401
    assert session_cookie_names(stack, replayed) == set()
    assert set_cookie_headers(replayed) == []  # the pending sign-in stays for a right code
    assert "not right, or was already used" in replayed.text
    assert post_code(again, stack, code=user.app.code()).status_code == 303


def test_wrong_codes_are_throttled_with_retry_after(stack: Stack) -> None:
    user = enrolled_user(stack)
    session = password_step(stack, user.name, user.password)
    limit = int(stack.env.get("VERIFIER_LOGIN_MAX_FAILURES_PER_ACCOUNT", "5"))
    for _ in range(limit):
        wrong = post_code(session, stack, code=user.app.wrong_code())
        assert wrong.status_code == 401
        assert session_cookie_names(stack, wrong) == set()

    # Even the right code waits: the account's allowance of wrong codes is spent.
    throttled = post_code(session, stack, code=user.app.code())

    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1
    assert set_cookie_headers(throttled) == []
    # A correct password does not clear the count of wrong codes.
    fresh = password_step(stack, user.name, user.password)
    assert post_code(fresh, stack, code=user.app.code()).status_code == 429
    assert stack.cli("users", "unlock", user.name).returncode == 0


def test_recovery_code_signs_in_once_and_is_refused_the_second_time(stack: Stack) -> None:
    user = enrolled_user(stack)
    code = user.recovery_codes[3]
    first = password_step(stack, user.name, user.password, next_path="/api/whoami")

    used = post_code(first, stack, recovery_code=code.upper().replace("-", " "))

    assert used.status_code == 200
    assert "You have 9 recovery codes left." in " ".join(used.text.split())
    assert 'href="/api/whoami"' in used.text
    assert session_cookie_names(stack, used) == {stack.access_cookie, stack.refresh_cookie}
    assert _whoami(stack, first).json()["user"] == user.name

    second = password_step(stack, user.name, user.password)
    refused = post_code(second, stack, recovery_code=code)
    assert refused.status_code == 401
    assert session_cookie_names(stack, refused) == set()


def test_a_pending_cookie_alone_never_passes_auth(stack: Stack) -> None:
    user = enrolled_user(stack)
    session = password_step(stack, user.name, user.password)
    pending = f"{pending_cookie_name(stack)}={pending_value(session)}"

    for path in ("/api/whoami", "/", "/admin/"):
        with_pending = get_page(stack, path, cookie=pending)
        without = get_page(stack, path)
        assert (with_pending.status_code, with_pending.json()) == (
            without.status_code,
            without.json(),
        )
        assert with_pending.status_code == 401
        navigation = get_page(stack, path, cookie=pending, **PAGE_HEADERS)
        assert navigation.status_code == 302
        assert (
            navigation.headers["Location"]
            == get_page(stack, path, **PAGE_HEADERS).headers["Location"]
        )
        assert set_cookie_headers(with_pending) == []


def test_an_expired_pending_sign_in_goes_back_to_the_password(stack: Stack) -> None:
    user = enrolled_user(stack)
    session = password_step(stack, user.name, user.password)
    key = pending_key(stack, pending_value(session))
    # As if the password had been typed minutes ago: its end is moved near, and awaited.
    assert stack.redis.pexpire(key, PENDING_LEFT_MS)
    wait_until(lambda: not stack.redis.exists(key), "the pending sign-in to expire in Redis")

    expired = post_code(session, stack, code=user.app.code())

    assert expired.status_code == 303
    assert expired.headers["Location"] == "/auth/login?pending=expired"
    assert set_cookies(expired) == {pending_cookie_name(stack): ""}
    page = session.get(stack.url(expired.headers["Location"]), timeout=TIMEOUT)
    assert "took too long or was interrupted" in page.text
    as_json = session.post(stack.url(FACTOR_PATH), json={"code": user.app.code()}, timeout=TIMEOUT)
    assert as_json.status_code == 401
    assert as_json.json()["login_url"] == "/auth/login"
    assert session_cookie_names(stack, as_json) == set()


def test_unknown_or_garbage_pending_cookies_go_back_to_the_sign_in_form(stack: Stack) -> None:
    for value in ("x" * 43, "garbage", "a.b.c", "%00%ff", ""):
        cookie = f"{pending_cookie_name(stack)}={value}"
        got = requests.get(
            stack.url(FACTOR_PATH),
            headers={**PAGE_HEADERS, "Cookie": cookie},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert got.status_code == 303, value
        assert got.headers["Location"] == "/auth/login?pending=expired"
        posted = requests.post(
            stack.url(FACTOR_PATH),
            data={"code": "123456"},
            headers={"Cookie": cookie},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert posted.status_code == 303, value
        assert session_cookie_names(stack, posted) == set()
        as_json = requests.post(
            stack.url(FACTOR_PATH),
            json={"code": "123456"},
            headers={"Cookie": cookie},
            timeout=TIMEOUT,
        )
        assert as_json.status_code == 401, value
        assert session_cookie_names(stack, as_json) == set()


def test_a_pending_sign_in_completes_once(stack: Stack) -> None:
    user = enrolled_user(stack)
    session = password_step(stack, user.name, user.password)
    pending = f"{pending_cookie_name(stack)}={pending_value(session)}"
    assert post_code(session, stack, code=user.app.code()).status_code == 303

    # The same pending cookie again (copied before it was cleared), with another right code.
    again = requests.post(
        stack.url(FACTOR_PATH),
        data={"code": user.app.code()},
        headers={"Cookie": pending},
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert again.status_code == 303
    assert again.headers["Location"] == "/auth/login?pending=expired"
    assert session_cookie_names(stack, again) == set()


def test_too_many_wrong_codes_end_the_pending_sign_in(stack: Stack) -> None:
    user = enrolled_user(stack)
    session = password_step(stack, user.name, user.password)
    key = pending_key(stack, pending_value(session))
    # As if it had taken all but one of its wrong codes (fewer than the throttle allows).
    stack.redis.hset(key, "attempts", MAX_ATTEMPTS - 1)

    last = post_code(session, stack, code=user.app.wrong_code())

    assert last.status_code == 303
    assert last.headers["Location"] == "/auth/login?pending=attempts"
    assert set_cookies(last) == {pending_cookie_name(stack): ""}
    assert not stack.redis.exists(key)
    assert stack.cli("users", "unlock", user.name).returncode == 0


def test_the_json_sign_in_asks_for_the_code_and_takes_it(stack: Stack) -> None:
    user = enrolled_user(stack)
    client = stack.new_session()
    started = client.post(
        stack.url("/auth/login"),
        json={"username": user.name, "password": user.password, "next": "/api/whoami"},
        timeout=TIMEOUT,
    )
    assert started.status_code == 202
    assert started.json() == {
        "second_factor": "required",
        "url": FACTOR_PATH,
        "next": "/api/whoami",
    }
    assert set(set_cookies(started)) == {pending_cookie_name(stack)}
    described = client.get(
        stack.url(FACTOR_PATH), headers={"Accept": "application/json"}, timeout=TIMEOUT
    )
    assert described.json() == {"second_factor": "required", "methods": ["otp", "rcv"]}

    bad = client.post(stack.url(FACTOR_PATH), json={"code": "12"}, timeout=TIMEOUT)
    assert_refused(bad, 401)
    empty = client.post(stack.url(FACTOR_PATH), json={}, timeout=TIMEOUT)
    assert_refused(empty, 400)
    done = client.post(stack.url(FACTOR_PATH), json={"code": user.app.code()}, timeout=TIMEOUT)

    assert done.status_code == 200
    body = done.json()
    assert (body["user"], body["next"], body["methods"]) == (
        user.name,
        "/api/whoami",
        ["pwd", "otp"],
    )
    assert session_cookie_names(stack, done) == {stack.access_cookie, stack.refresh_cookie}
    assert _whoami(stack, client).json()["user"] == user.name


def test_a_user_without_a_factor_signs_in_with_the_password_alone(stack: Stack) -> None:
    name, password = new_user(stack, "plain")
    session = stack.login(name, password, next_path="/api/whoami")
    assert _whoami(stack, session).json()["user"] == name


def test_a_member_of_a_group_that_demands_a_factor_enrols_before_signing_in(
    stack: Stack,
) -> None:
    name, password = new_user(stack, "enforced")
    assert stack.cli("users", "groups", name, "--add", ENFORCED_GROUP).returncode == 0
    session = password_step(stack, name, password, next_path="/api/whoami")
    assert _whoami(stack, session).status_code == 401

    shown = session.get(stack.url(FACTOR_PATH), headers=PAGE_HEADERS, timeout=TIMEOUT)
    assert shown.status_code == 200
    assert "<svg" in shown.text
    assert "Your account needs two-step sign-in" in shown.text
    app = Authenticator(page_secret(shown.text))
    wrong = post_code(session, stack, code=app.wrong_code())
    assert wrong.status_code == 401
    assert session_cookie_names(stack, wrong) == set()
    assert page_secret(wrong.text) == app.secret  # the same enrolment, shown again

    enrolled = post_code(session, stack, code=app.code())

    assert enrolled.status_code == 200
    assert len(page_recovery_codes(enrolled.text)) == 10
    assert 'href="/api/whoami"' in enrolled.text
    assert session_cookie_names(stack, enrolled) == {stack.access_cookie, stack.refresh_cookie}
    assert _whoami(stack, session).json()["user"] == name
    # From now on the password alone is not enough.
    again = password_step(stack, name, password)
    assert post_code(again, stack, code=app.code()).status_code == 303


def test_redis_down_fails_the_second_factor_pages_closed_and_clears_no_cookie(stack: Stack) -> None:
    user = enrolled_user(stack, "outage")
    session = password_step(stack, user.name, user.password)
    plain, plain_password = new_user(stack, "outage-plain")
    signed_in = stack.login(plain, plain_password)
    stack.stop_redis()

    during = post_code(session, stack, code=user.app.code())
    form = session.get(stack.url(FACTOR_PATH), headers=PAGE_HEADERS, timeout=TIMEOUT)

    assert during.status_code == 503
    assert int(during.headers["Retry-After"]) >= 1
    assert set_cookie_headers(during) == []
    assert form.status_code == 503
    assert set_cookie_headers(form) == []
    account = signed_in.post(
        stack.url("/auth/account/totp"),
        data={"action": "confirm", "code": "123456"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert account.status_code == 503
    assert set_cookie_headers(account) == []
