"""A directory user's password lives in the directory: the account page changes it there
(RFC 3062 Password Modify), a step-up checks it there, and our own second factors work for
them as for local users."""

from __future__ import annotations

import time

import pytest
import requests
from conftest import Stack
from e2e_helpers import PAGE_HEADERS, TIMEOUT, set_cookie_headers, set_cookies
from factor_helpers import enrol, password_step, post_code
from upstream_fixtures import LDAP_GROUPS, SourcesStacks, audit_records

from verifier.demo.directory import DemoDirectory

pytestmark = pytest.mark.one_nginx

ACCOUNT = "/auth/account"
RECENT_PATH = "/step-up/recent"
JSON = {"Accept": "application/json"}


def change_password(
    stack: Stack, session: requests.Session, current: str, new: str
) -> requests.Response:
    return session.post(
        stack.url(ACCOUNT),
        json={
            "action": "change_password",
            "current_password": current,
            "new_password": new,
            "new_password_again": new,
        },
        headers={**JSON, "Origin": stack.base_url},
        timeout=TIMEOUT,
    )


def signs_in(stack: Stack, name: str, password: str) -> int:
    return (
        stack.new_session()
        .post(
            stack.url("/auth/login"), json={"username": name, "password": password}, timeout=TIMEOUT
        )
        .status_code
    )


def test_a_directory_user_changes_their_password_in_the_directory(
    ldap_stack: Stack, directory: DemoDirectory
) -> None:
    old = directory.passwords["gina"]
    session = ldap_stack.login("gina", old)
    other = ldap_stack.login("gina", old)
    page = session.get(ldap_stack.url(ACCOUNT), headers=JSON, timeout=TIMEOUT).json()
    assert page["password"] == {"changeable": True, "where": "the directory ldap:corp"}

    # The directory's own policy (pwdMinLength 12) refuses what our rule (8) would allow.
    refused = change_password(ldap_stack, session, old, "short-pw1")
    assert refused.status_code == 400, refused.text
    assert "refused the new password" in refused.json()["error"]
    assert signs_in(ldap_stack, "gina", old) == 200
    wrong = change_password(ldap_stack, session, old + "x", "a-long-enough-password")
    assert wrong.status_code == 403
    assert set_cookie_headers(wrong) == []

    new = "a-new-directory-password"
    changed = change_password(ldap_stack, session, old, new)

    assert changed.status_code == 200, changed.text
    # Every other session ends: `other`, and the one signs_in() opened above.
    assert changed.json() == {"password_changed": True, "sessions_ended": 2}
    assert signs_in(ldap_stack, "gina", old) == 401
    assert signs_in(ldap_stack, "gina", new) == 200
    assert (
        other.get(ldap_stack.url("/api/whoami"), headers=JSON, timeout=TIMEOUT).status_code == 401
    )
    (record,) = audit_records(ldap_stack, "account.password_changed", user="gina")
    assert record["source"] == "ldap:corp"
    directory.passwords["gina"] = new


def test_where_a_directory_takes_no_changes_the_page_says_where_to_change_it(
    sources_stack: SourcesStacks, directory: DemoDirectory
) -> None:
    url = "https://id.corp.example/password"
    stack = sources_stack(
        directory.sources_entry(
            "corp", password_change="off", password_change_url=url, **LDAP_GROUPS
        )
    )
    password = directory.passwords["carol"]
    session = stack.login("carol", password)

    page = session.get(stack.url(ACCOUNT), headers=PAGE_HEADERS, timeout=TIMEOUT)
    refused = change_password(stack, session, password, "anything-long-enough")

    assert f'<a href="{url}" id="password-elsewhere" translate="no">' in page.text
    assert 'name="new_password"' not in page.text
    assert refused.status_code == 400
    assert "does not take password changes here" in refused.json()["error"]
    assert signs_in(stack, "carol", password) == 200


def test_an_old_directory_sign_in_steps_up_with_the_directory_password(
    ldap_stack: Stack, directory: DemoDirectory
) -> None:
    password = directory.passwords["erin"]
    browser = ldap_stack.login("erin", password)
    session_id = str(browser.cookies.get(ldap_stack.refresh_cookie)).rsplit(".", 2)[1]
    # As if erin had signed in 11 minutes ago: the next refresh carries the session's time.
    key = f"{ldap_stack.key_prefix}:{{erin}}:session:{session_id}"
    ldap_stack.redis.hset(key, "auth_time", int(time.time()) - 11 * 60)
    browser.cookies.set(ldap_stack.access_cookie, None)
    sent = browser.get(
        ldap_stack.url(RECENT_PATH), headers=PAGE_HEADERS, allow_redirects=False, timeout=TIMEOUT
    )
    step_up = sent.headers["Location"]
    assert step_up.startswith("/auth/login?step_up=max_age")

    wrong = browser.post(
        ldap_stack.url(step_up),
        data={"password": password + "x"},
        headers=PAGE_HEADERS,
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    done = browser.post(
        ldap_stack.url(step_up),
        data={"password": password},
        headers=PAGE_HEADERS,
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert wrong.status_code == 401
    assert set_cookie_headers(wrong) == []
    assert done.status_code == 303, done.text
    assert ldap_stack.access_cookie in set_cookies(done)
    shown = browser.get(ldap_stack.url(RECENT_PATH), allow_redirects=False, timeout=TIMEOUT)
    assert shown.status_code == 200


def test_a_directory_user_signs_in_with_our_totp_as_a_second_factor(
    ldap_stack: Stack, directory: DemoDirectory
) -> None:
    password = directory.passwords["hank"]
    app, _codes = enrol(ldap_stack, ldap_stack.login("hank", password))

    pending = password_step(ldap_stack, "hank", password)
    done = post_code(pending, ldap_stack, code=app.code())

    assert done.status_code == 303, done.text
    identity = pending.get(
        ldap_stack.url("/api/whoami"), headers={"Accept": "application/json"}, timeout=TIMEOUT
    ).json()
    assert identity["user"] == "hank"
    assert identity["claims"]["amr"] == ["pwd", "otp"]
    assert identity["claims"]["source"] == "ldap:corp"
    # The session keeps its upstream link: it is re-checked like any directory session.
    session_id = str(pending.cookies.get(ldap_stack.refresh_cookie)).rsplit(".", 2)[1]
    stored = ldap_stack.redis.hgetall(f"{ldap_stack.key_prefix}:{{hank}}:session:{session_id}")
    assert stored["source"] == "ldap:corp"
    assert stored["upstream_id"]
