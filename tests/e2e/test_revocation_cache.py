"""Revocation with the per-worker liveness cache on: every worker denies once it hears.

The stack's workers may vouch for a session from their cache for 60 s. A revoked session
denied by every worker well before that (SETTLE_SECONDS) was denied because each worker
heard the revocation, not because its cache ran out. How soon each worker reads the message
depends on when the machine runs it, so the tests wait for the denial rather than time it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests
from e2e_helpers import (
    burst_statuses,
    cookie_header,
    eventually,
    new_user,
    sign_in,
    wait_until_every_worker_listens,
)

if TYPE_CHECKING:
    from conftest import Stack


HAMMER = 60


def _exists_calls(stack: Stack) -> int:
    stats = stack.redis.info("commandstats")
    return int(stats.get("cmdstat_exists", {}).get("calls", 0))


def _burst_and_redis_checks(stack: Stack, cookie: str) -> tuple[list[int], int]:
    """A burst of HAMMER checks, and how many of them asked Redis whether the session lives."""
    before = _exists_calls(stack)
    statuses = burst_statuses(stack, cookie, HAMMER)
    return statuses, _exists_calls(stack) - before


def _all_denied(statuses: list[int]) -> bool:
    return set(statuses) == {401}


def test_session_checks_are_served_from_the_cache(stack: Stack) -> None:
    wait_until_every_worker_listens(stack)  # a worker caches only while it hears revocations
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    cookie = cookie_header(stack, access=signed.access)

    # A worker asks Redis the first time it sees the session; once every worker has (which
    # burst that is depends on how the kernel hands out connections), checks stop asking.
    # Other tests may run checks meanwhile on other stacks, so allow a little slack.
    statuses, asked = eventually(
        lambda: _burst_and_redis_checks(stack, cookie), lambda burst: burst[1] < HAMMER // 2
    )

    assert set(statuses) == {200}
    assert asked < HAMMER // 2


def test_logout_is_heard_by_every_worker_that_cached_the_session(stack: Stack) -> None:
    wait_until_every_worker_listens(stack)
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    access_only = cookie_header(stack, access=signed.access)
    # Cached as live in every worker (which of them answered depends on the kernel).
    assert set(burst_statuses(stack, access_only, HAMMER)) == {200}

    logout = requests.post(
        stack.url("/auth/logout"),
        headers={"Cookie": cookie_header(stack, signed.access, signed.refresh)},
        allow_redirects=False,
        timeout=10,
    )
    assert logout.status_code == 303

    statuses = eventually(lambda: burst_statuses(stack, access_only, HAMMER), _all_denied)
    assert _all_denied(statuses), statuses


def test_logout_everywhere_is_heard_by_every_worker_that_cached_a_session(stack: Stack) -> None:
    wait_until_every_worker_listens(stack)
    name, password = new_user(stack)
    laptop, phone = sign_in(stack, name, password), sign_in(stack, name, password)
    phone_cookie = cookie_header(stack, access=phone.access)
    assert set(burst_statuses(stack, phone_cookie, HAMMER)) == {200}

    logout = requests.post(
        stack.url("/auth/logout?all=1"),
        headers={"Cookie": cookie_header(stack, laptop.access, laptop.refresh)},
        allow_redirects=False,
        timeout=10,
    )
    assert logout.status_code == 303

    statuses = eventually(lambda: burst_statuses(stack, phone_cookie, HAMMER), _all_denied)
    assert _all_denied(statuses), statuses
