"""Redis restarts under a running verifier: what survives with an append-only file, and without.

"Persistence and backups" (docs/operations.md) documents the settings. `persistent_stack` runs
on a redis-server of its own with `--appendonly yes --appendfsync always`: every write Redis has
acknowledged is on disk, so killing the server by its PID (no shutdown, as in a crash) loses
nothing the test did. The shared `redis_server` persists nothing, as before.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import requests
from e2e_helpers import (
    PAGE_HEADERS,
    burst,
    cookie_header,
    every_worker_admits,
    expired_access_token,
    get_page,
    new_user,
    set_cookie_headers,
    set_cookies,
    sign_in,
    wait_until_every_worker_listens,
)

if TYPE_CHECKING:
    from conftest import Stack

_GROUPS = ([], ["staff"], ["admins", "staff"])


def _add_users(stack: Stack) -> dict[str, tuple[str, list[str]]]:
    users = {}
    for groups in _GROUPS:
        name, password = f"aof-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
        options = [f"--group={group}" for group in groups]
        added = stack.cli("users", "add", name, *options, stdin=password + "\n")
        assert added.returncode == 0, added.stderr
        users[name] = (password, groups)
    return users


def _rotated_refresh(stack: Stack, refresh: str) -> str:
    response = get_page(stack, cookie=cookie_header(stack, refresh=refresh))
    assert response.status_code == 200, response.text
    return set_cookies(response)[stack.refresh_cookie]


def test_with_appendonly_a_redis_crash_keeps_users_groups_and_sessions(
    persistent_stack: Stack,
) -> None:
    stack = persistent_stack
    users = _add_users(stack)
    listed = stack.cli("users", "list").stdout
    kept_name, target_name = list(users)[2], list(users)[1]
    kept_groups = users[kept_name][1]
    kept = sign_in(stack, kept_name, users[kept_name][0])
    valid = cookie_header(stack, kept.access, kept.refresh)
    every_worker_admits(stack, valid)
    # A session whose first refresh token is two rotations old before the crash: replaying
    # it afterwards must still be recognised (the retired hashes are in Redis too).
    stolen = sign_in(stack, target_name, users[target_name][0])
    latest = _rotated_refresh(stack, _rotated_refresh(stack, stolen.refresh))
    verifier_pid = stack.processes["verifier"].pid

    stack.redis_server.crash()
    stack.redis_server.start()  # returns once it serves (no longer LOADING the AOF)
    wait_until_every_worker_listens(stack)

    assert stack.processes["verifier"].pid == verifier_pid
    assert stack.cli("users", "list").stdout == listed
    # The same cookies, on every worker, checked against Redis: each worker emptied its
    # cache when its revocation channel dropped.
    every_worker_admits(stack, valid)
    whoami = get_page(stack, cookie=valid).json()
    assert (whoami["user"], whoami["groups"]) == (kept_name, list(kept_groups))
    # A silent refresh after the restart, and the cookies it hands out.
    refreshed = get_page(
        stack,
        cookie=cookie_header(
            stack, expired_access_token(stack, kept_name, kept.session_id), kept.refresh
        ),
    )
    assert refreshed.status_code == 200, refreshed.text
    renewed = set_cookies(refreshed)
    renewed_cookie = cookie_header(
        stack, renewed[stack.access_cookie], renewed[stack.refresh_cookie]
    )
    every_worker_admits(stack, renewed_cookie)
    # The replay is judged as before the crash: the whole session ends.
    replay = get_page(stack, cookie=cookie_header(stack, refresh=stolen.refresh))
    assert replay.status_code == 401
    assert set_cookie_headers(replay) == []
    assert get_page(stack, cookie=cookie_header(stack, refresh=latest)).status_code == 401
    # Every user still signs in with their password.
    for name, (password, _) in users.items():
        assert sign_in(stack, name, password).name == name


def test_without_persistence_a_redis_restart_asks_the_client_to_sign_in_again(
    stack: Stack,
) -> None:
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    valid = cookie_header(stack, signed.access, signed.refresh)
    needs_refresh = cookie_header(
        stack, expired_access_token(stack, name, signed.session_id), signed.refresh
    )
    every_worker_admits(stack, valid)

    stack.restart_redis()  # the shared server persists nothing: every key is gone
    wait_until_every_worker_listens(stack)

    # Signed out, never an error: API calls get 401, page navigations the sign-in page.
    denied = burst(stack, valid)
    assert denied.every_worker(stack, 401), denied.answers
    assert get_page(stack, cookie=needs_refresh).status_code == 401
    page = get_page(stack, "/", cookie=valid, **PAGE_HEADERS)
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/auth/login")
    # The user is gone too, until the operator restores them (`verifier users import`).
    login = requests.post(
        stack.url("/auth/login"), json={"username": name, "password": password}, timeout=10
    )
    assert login.status_code == 401
