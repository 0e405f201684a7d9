"""Logout through nginx: immediate, per session or everywhere, POST only."""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests
from e2e_helpers import (
    burst,
    cookie_header,
    eventually,
    get_page,
    new_user,
    post_logout,
    set_cookie_headers,
    sign_in,
)

if TYPE_CHECKING:
    from conftest import Stack


def test_logout_makes_the_old_tokens_fail_long_before_they_expire(stack: Stack) -> None:
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    cookie = cookie_header(stack, signed.access, signed.refresh)
    access_only = cookie_header(stack, access=signed.access)
    # Now cached as live by every worker (each answered some of these checks).
    cached = burst(stack, access_only)
    assert cached.every_worker(stack, 204), cached.answers

    response = post_logout(stack, cookie)

    assert response.status_code == 200
    assert response.json() == {"signed_out": True, "sessions_ended": 1}
    # Well inside the access token's own lifetime (5 minutes) and the worker caches' (60 s):
    # only the revocation can deny it. A worker that cached the session may read it a moment
    # after this answer (test_revocation_cache.py), so the check waits for every worker.
    denied = eventually(
        lambda: burst(stack, access_only),
        lambda answered: answered.every_worker(stack, 401),
        what="every worker to deny the logged-out session",
    )
    assert set(denied.statuses) == {401}
    assert all(set_cookie_headers(answer) == [] for answer in denied.responses)
    # A refresh always asks Redis: denied at once.
    refresh_only = get_page(stack, cookie=cookie_header(stack, refresh=signed.refresh))
    assert refresh_only.status_code == 401
    assert set_cookie_headers(refresh_only) == []


def test_logout_clears_both_cookies_with_max_age_zero(stack: Stack) -> None:
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)

    response = post_logout(stack, cookie_header(stack, signed.access, signed.refresh))

    lines = sorted(set_cookie_headers(response))
    assert [line.split("=", 1)[0] for line in lines] == [stack.access_cookie, stack.refresh_cookie]
    for line in lines:
        assert line.split(";")[0].endswith("=")
        assert "Max-Age=0" in line
        assert "HttpOnly" in line
        assert "Path=/" in line
    assert response.headers["Cache-Control"] == "no-store"


def test_logout_with_only_the_refresh_cookie_ends_the_session(stack: Stack) -> None:
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)

    response = post_logout(stack, cookie_header(stack, refresh=signed.refresh))

    assert response.json()["sessions_ended"] == 1
    assert get_page(stack, cookie=cookie_header(stack, access=signed.access)).status_code == 401


def test_logout_everywhere_ends_every_session_of_the_user_only(stack: Stack) -> None:
    name, password = new_user(stack)
    laptop, phone = sign_in(stack, name, password), sign_in(stack, name, password)
    other_name, other_password = new_user(stack, "bystander")
    bystander = sign_in(stack, other_name, other_password)

    response = post_logout(
        stack, cookie_header(stack, laptop.access, laptop.refresh), everywhere=True
    )

    assert response.json()["sessions_ended"] == 2
    for device in (laptop, phone):
        assert get_page(stack, cookie=cookie_header(stack, access=device.access)).status_code == 401
        assert (
            get_page(stack, cookie=cookie_header(stack, refresh=device.refresh)).status_code == 401
        )
    assert get_page(stack, cookie=cookie_header(stack, access=bystander.access)).status_code == 200


def test_logout_of_one_device_leaves_the_other_signed_in(stack: Stack) -> None:
    name, password = new_user(stack)
    laptop, phone = sign_in(stack, name, password), sign_in(stack, name, password)

    post_logout(stack, cookie_header(stack, laptop.access, laptop.refresh))

    assert get_page(stack, cookie=cookie_header(stack, access=laptop.access)).status_code == 401
    assert get_page(stack, cookie=cookie_header(stack, access=phone.access)).status_code == 200


def test_get_on_logout_is_not_a_logout(stack: Stack) -> None:
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    cookie = cookie_header(stack, signed.access, signed.refresh)

    response = requests.get(
        stack.url("/auth/logout"), headers={"Cookie": cookie}, allow_redirects=False, timeout=10
    )

    assert response.status_code == 405
    assert set_cookie_headers(response) == []
    assert get_page(stack, cookie=cookie).status_code == 200


def test_form_logout_redirects_to_the_login_page(stack: Stack) -> None:
    name, password = new_user(stack)
    session = stack.login(name, password)

    response = session.post(stack.url("/auth/logout"), allow_redirects=False, timeout=10)

    assert response.status_code == 303
    assert response.headers["Location"] == "/auth/login?signed_out=1"
    assert session.get(stack.url("/api/whoami"), allow_redirects=False, timeout=10).status_code in (
        302,
        401,
    )


def test_cross_site_logout_is_refused_and_the_session_survives(stack: Stack) -> None:
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    cookie = cookie_header(stack, signed.access, signed.refresh)

    response = requests.post(
        stack.url("/auth/logout"),
        headers={
            "Cookie": cookie,
            "Origin": "https://evil.example",
            "Sec-Fetch-Site": "cross-site",
        },
        allow_redirects=False,
        timeout=10,
    )

    assert response.status_code == 403
    assert set_cookie_headers(response) == []
    assert get_page(stack, cookie=cookie).status_code == 200
