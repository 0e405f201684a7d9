"""Revocation with the per-worker liveness cache on: every worker denies within 50 ms."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import requests
from e2e_helpers import cookie_header, get_page, new_user, sign_in

if TYPE_CHECKING:
    from conftest import Stack

HAMMER = 60


def _exists_calls(stack: Stack) -> int:
    stats = stack.redis.info("commandstats")
    return int(stats.get("cmdstat_exists", {}).get("calls", 0))


def _hammer(stack: Stack, cookie: str) -> list[int]:
    with ThreadPoolExecutor(max_workers=12) as pool:
        return list(pool.map(lambda _: get_page(stack, cookie=cookie).status_code, range(HAMMER)))


def test_session_checks_are_served_from_the_cache(stack: Stack) -> None:
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    cookie = cookie_header(stack, access=signed.access)
    _hammer(stack, cookie)  # every worker has now asked Redis once

    before = _exists_calls(stack)
    assert _hammer(stack, cookie) == [200] * HAMMER
    # Other tests may run checks meanwhile on other stacks, so allow a little slack.
    assert _exists_calls(stack) - before < HAMMER // 2


def test_logout_is_denied_by_every_worker_within_50_ms(stack: Stack) -> None:
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    access_only = cookie_header(stack, access=signed.access)
    assert _hammer(stack, access_only) == [200] * HAMMER  # cached as live in every worker

    logout = requests.post(
        stack.url("/auth/logout"),
        headers={"Cookie": cookie_header(stack, signed.access, signed.refresh)},
        allow_redirects=False,
        timeout=10,
    )
    assert logout.status_code == 303
    time.sleep(0.05)

    assert _hammer(stack, access_only) == [401] * HAMMER


def test_logout_everywhere_is_denied_by_every_worker_within_50_ms(stack: Stack) -> None:
    name, password = new_user(stack)
    laptop, phone = sign_in(stack, name, password), sign_in(stack, name, password)
    phone_cookie = cookie_header(stack, access=phone.access)
    assert _hammer(stack, phone_cookie) == [200] * HAMMER

    requests.post(
        stack.url("/auth/logout?all=1"),
        headers={"Cookie": cookie_header(stack, laptop.access, laptop.refresh)},
        allow_redirects=False,
        timeout=10,
    )
    time.sleep(0.05)

    assert _hammer(stack, phone_cookie) == [401] * HAMMER
