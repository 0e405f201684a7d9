"""Two verifier processes on one Redis: a check nginx sends again to another one is safe.

nginx's `proxy_next_upstream` re-sends a failed `/auth` subrequest to the next verifier of
the upstream, refresh cookie and all. Here the same check goes to two real verifier
processes (the stack's, and a second one with the same settings), one after the other and
at the same moment: the session rotates once, both answer 204, and the cookies the browser
is left with work through nginx.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest
import requests
from e2e_helpers import TIMEOUT, cookie_header, get_page, new_user, set_cookies, sign_in
from extra_verifier import extra_verifier

from verifier.auth_check import SET_ACCESS_COOKIE_HEADER, SET_REFRESH_COOKIE_HEADER
from verifier.sessions.store import RefreshToken
from verifier.store.keyspace import KeySpace

if TYPE_CHECKING:
    from conftest import Stack


@pytest.fixture(scope="module")
def second_verifier(stack: Stack) -> Iterator[str]:
    """Another verifier process with the stack's settings (same Redis, keys, prefix)."""
    with extra_verifier(stack) as url:
        yield url


def _check(verifier_url: str, stack: Stack, refresh: str) -> requests.Response:
    """The `/auth` subrequest nginx sends for a page, refresh cookie only (access expired)."""
    return requests.get(
        verifier_url + "/auth",
        headers={
            "Cookie": cookie_header(stack, refresh=refresh),
            "X-Original-URI": "/api/whoami",
            "X-Original-Method": "GET",
            "Host": "localhost",
        },
        allow_redirects=False,
        timeout=TIMEOUT,
    )


def _cookie_value(line: str | None) -> str | None:
    return line.split(";", 1)[0].split("=", 1)[1] if line else None


def _stored_hashes(stack: Stack, user: str, session_id: str) -> tuple[str, str]:
    key = KeySpace(stack.key_prefix).session(user, session_id)
    current, previous = stack.redis.hmget(key, ["current", "previous"])
    return current, previous


def _secret_hash(refresh: str) -> str:
    return RefreshToken.parse(refresh).secret_hash


def _assert_one_rotation_and_working_cookies(
    stack: Stack, user: str, original: str, answers: list[requests.Response]
) -> None:
    assert [answer.status_code for answer in answers] == [204, 204]
    refreshed = [
        a.headers[SET_REFRESH_COOKIE_HEADER]
        for a in answers
        if SET_REFRESH_COOKIE_HEADER in a.headers
    ]
    # One rotation: the other verifier answered inside the grace window, access only.
    assert len(refreshed) == 1
    new_refresh = _cookie_value(refreshed[0])
    assert new_refresh is not None and new_refresh != original
    assert all(SET_ACCESS_COOKIE_HEADER in answer.headers for answer in answers)
    session_id = original.rsplit(".", 2)[1]
    assert _stored_hashes(stack, user, session_id) == (
        _secret_hash(new_refresh),
        _secret_hash(original),
    )
    # The browser keeps the one new refresh cookie and (either) new access cookie.
    access = _cookie_value(answers[-1].headers[SET_ACCESS_COOKIE_HEADER])
    page = get_page(stack, cookie=cookie_header(stack, access=access, refresh=new_refresh))
    assert page.status_code == 200
    # And once its access cookie is gone, the new refresh cookie signs it in silently.
    silent = get_page(stack, cookie=cookie_header(stack, refresh=new_refresh))
    assert silent.status_code == 200
    assert stack.refresh_cookie in set_cookies(silent)


def test_a_check_sent_to_two_verifiers_in_turn_rotates_once_and_both_admit(
    stack: Stack, second_verifier: str
) -> None:
    name, password = new_user(stack, "twice")
    signed_in = sign_in(stack, name, password)
    first = _check(stack.verifier_url, stack, signed_in.refresh)
    again = _check(second_verifier, stack, signed_in.refresh)
    assert SET_REFRESH_COOKIE_HEADER in first.headers
    assert SET_REFRESH_COOKIE_HEADER not in again.headers
    _assert_one_rotation_and_working_cookies(stack, name, signed_in.refresh, [first, again])


def test_a_check_sent_to_two_verifiers_at_once_rotates_once_and_both_admit(
    stack: Stack, second_verifier: str
) -> None:
    name, password = new_user(stack, "at-once")
    signed_in = sign_in(stack, name, password)
    start = threading.Barrier(2)

    def check(verifier_url: str) -> requests.Response:
        start.wait(TIMEOUT)
        return _check(verifier_url, stack, signed_in.refresh)

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(check, [stack.verifier_url, second_verifier]))
    # Which of the two rotated is up to the race; that exactly one did is not.
    _assert_one_rotation_and_working_cookies(stack, name, signed_in.refresh, answers)
