"""What a verifier answers when no replica confirms a rotation or a revocation in time.

A verifier with VERIFIER_REDIS_MIN_REPLICAS=1 beside the stack's own, on the standalone
redis-server (which has no replica, so no write is ever confirmed): `/auth` and logout fail
closed with 503 and touch no cookie, and the cookies kept work on a verifier that does not
wait (the stack's, through nginx).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
import requests
from e2e_helpers import (
    TIMEOUT,
    cookie_header,
    get_page,
    new_user,
    run_cli,
    set_cookies,
    sign_in,
)
from extra_verifier import extra_verifier

from verifier.auth_check import SET_ACCESS_COOKIE_HEADER, SET_REFRESH_COOKIE_HEADER

if TYPE_CHECKING:
    from conftest import Stack


@pytest.fixture(scope="module")
def waiting_verifier(stack: Stack) -> Iterator[str]:
    """A verifier that waits for one replica, 20 ms, on a Redis that has none."""
    with extra_verifier(stack, VERIFIER_REDIS_MIN_REPLICAS="1", VERIFIER_REDIS_WAIT_MS="20") as url:
        yield url


def test_an_unconfirmed_rotation_answers_503_and_the_kept_cookie_still_signs_in(
    stack: Stack, waiting_verifier: str
) -> None:
    name, password = new_user(stack, "withheld")
    signed_in = sign_in(stack, name, password)
    check = requests.get(
        waiting_verifier + "/auth",
        headers={
            "Cookie": cookie_header(stack, refresh=signed_in.refresh),
            "X-Original-URI": "/api/whoami",
            "X-Original-Method": "GET",
            "Host": "localhost",
        },
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert check.status_code == 503
    assert check.headers["Retry-After"]
    assert SET_REFRESH_COOKIE_HEADER not in check.headers
    assert SET_ACCESS_COOKIE_HEADER not in check.headers
    # The refresh cookie the browser kept rotates (not merely grace) on the next check.
    page = get_page(stack, cookie=cookie_header(stack, refresh=signed_in.refresh))
    assert page.status_code == 200
    rotated = set_cookies(page)[stack.refresh_cookie]
    assert rotated != signed_in.refresh
    again = get_page(stack, cookie=cookie_header(stack, refresh=rotated))
    assert again.status_code == 200


def test_an_unconfirmed_logout_answers_503_and_clears_no_cookie(
    stack: Stack, waiting_verifier: str
) -> None:
    name, password = new_user(stack, "logout-withheld")
    signed_in = sign_in(stack, name, password)
    logout = requests.post(
        waiting_verifier + "/auth/logout",
        headers={
            "Cookie": cookie_header(stack, signed_in.access, signed_in.refresh),
            "Accept": "application/json",
            "Host": "localhost",
        },
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert logout.status_code == 503
    assert "Set-Cookie" not in logout.headers
    # The revocation stands on the master (only its replication is unconfirmed).
    ended = get_page(stack, cookie=cookie_header(stack, refresh=signed_in.refresh))
    assert ended.status_code == 401


def test_an_unconfirmed_cli_revocation_fails_and_says_to_run_it_again(stack: Stack) -> None:
    name, password = new_user(stack, "cli-withheld")
    signed_in = sign_in(stack, name, password)
    waiting = {**stack.env, "VERIFIER_REDIS_MIN_REPLICAS": "1", "VERIFIER_REDIS_WAIT_MS": "20"}
    ended = run_cli(waiting, "sessions", "end-all", name, expect=1)
    assert ended.returncode == 1
    assert "fewer replicas than VERIFIER_REDIS_MIN_REPLICAS confirmed" in ended.stderr
    assert signed_in.refresh.rsplit(".", 1)[1] not in ended.stderr + ended.stdout
    # Run again without the wait: nothing left to end, the first run's revocation stood.
    again = run_cli(stack.env, "sessions", "end-all", name)
    assert again.returncode == 0, again.stderr
    page = get_page(stack, cookie=cookie_header(stack, refresh=signed_in.refresh))
    assert page.status_code == 401
