"""Revocation with the per-worker liveness cache on: every worker denies once it hears.

The stack's workers may vouch for a session from their cache for 60 s. A revoked session
denied by every worker well before that (SETTLE_SECONDS) was denied because each worker
heard the revocation, not because its cache ran out. How soon each worker reads the message
depends on when the machine runs it, so the tests wait for the denial rather than time it.

Each test first proves that every worker holds the session in its cache (a burst every
worker answered without one Redis command about the session: `burst` says which worker
answered each check, Redis's MONITOR feed what was asked), so that "every worker denies"
afterwards cannot pass because nothing was cached in the first place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests
from e2e_helpers import (
    burst,
    cookie_header,
    eventually,
    every_worker_vouches_from_its_cache,
    new_user,
    set_cookie_headers,
    sign_in,
    wait_until_every_worker_listens,
)

if TYPE_CHECKING:
    from conftest import Stack


def _every_worker_denies(stack: Stack, cookie: str) -> None:
    denied = eventually(
        lambda: burst(stack, cookie),
        lambda answered: answered.every_worker(stack, 401),
        what="every worker to deny the revoked session",
    )
    assert set(denied.statuses) == {401}, denied.statuses
    assert all(set_cookie_headers(response) == [] for response in denied.responses)


def test_session_checks_are_served_from_the_cache(stack: Stack) -> None:
    wait_until_every_worker_listens(stack)  # a worker caches only while it hears revocations
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    cookie = cookie_header(stack, access=signed.access)

    # A worker asks Redis the first time it sees the session (which burst that is depends
    # on how the kernel hands out connections); once every worker has, none asks again.
    cached = every_worker_vouches_from_its_cache(stack, cookie, signed.session_id)

    assert set(cached.statuses) == {200}


def test_logout_is_heard_by_every_worker_that_cached_the_session(stack: Stack) -> None:
    wait_until_every_worker_listens(stack)
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    access_only = cookie_header(stack, access=signed.access)
    every_worker_vouches_from_its_cache(stack, access_only, signed.session_id)

    logout = requests.post(
        stack.url("/auth/logout"),
        headers={"Cookie": cookie_header(stack, signed.access, signed.refresh)},
        allow_redirects=False,
        timeout=10,
    )
    assert logout.status_code == 303

    _every_worker_denies(stack, access_only)


def test_logout_everywhere_is_heard_by_every_worker_that_cached_a_session(stack: Stack) -> None:
    wait_until_every_worker_listens(stack)
    name, password = new_user(stack)
    laptop, phone = sign_in(stack, name, password), sign_in(stack, name, password)
    phone_cookie = cookie_header(stack, access=phone.access)
    every_worker_vouches_from_its_cache(stack, phone_cookie, phone.session_id)

    logout = requests.post(
        stack.url("/auth/logout?all=1"),
        headers={"Cookie": cookie_header(stack, laptop.access, laptop.refresh)},
        allow_redirects=False,
        timeout=10,
    )
    assert logout.status_code == 303

    _every_worker_denies(stack, phone_cookie)
