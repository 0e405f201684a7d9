"""`verifier users mfa`, `mfa-reset` and `unlock` against a running stack."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import requests
from e2e_helpers import TIMEOUT, burst, cookie_header, eventually, new_user
from factor_helpers import enrolled_user, password_step, post_code

if TYPE_CHECKING:
    from conftest import Stack

pytestmark = pytest.mark.one_nginx


def _whoami_status(stack: Stack, session: requests.Session) -> int:
    return session.get(
        stack.url("/api/whoami"),
        headers={"Accept": "application/json"},
        allow_redirects=False,
        timeout=TIMEOUT,
    ).status_code


def test_users_mfa_shows_the_factors_and_refuses_an_unknown_user(stack: Stack) -> None:
    user = enrolled_user(stack, "cli-show")
    plain, _ = new_user(stack, "cli-plain")

    enrolled = stack.cli("users", "mfa", user.name)
    not_enrolled = stack.cli("users", "mfa", plain)
    unknown = stack.cli("users", "mfa", "nobody-at-all", expect=1)

    assert enrolled.stdout == f"{user.name}: totp enrolled; recovery codes left: 10\n"
    assert not_enrolled.stdout == f"{plain}: totp not enrolled; recovery codes left: 0\n"
    assert unknown.returncode == 1
    assert "no user nobody-at-all" in unknown.stderr


def test_users_mfa_reset_removes_the_factors_and_ends_every_session(stack: Stack) -> None:
    user = enrolled_user(stack, "cli-reset")
    session = password_step(stack, user.name, user.password)
    assert post_code(session, stack, code=user.app.code()).status_code == 303
    access_only = cookie_header(stack, access=session.cookies[stack.access_cookie])
    cached = burst(stack, access_only)  # cached as live by every worker
    assert cached.every_worker(stack, 204), cached.answers

    reset = stack.cli("users", "mfa-reset", user.name)

    assert reset.returncode == 0, reset.stderr
    # This one and the session the user enrolled from.
    assert reset.stdout == f"{user.name}: TOTP and recovery codes removed; 2 session(s) ended\n"
    eventually(
        lambda: burst(stack, access_only),
        lambda answered: answered.every_worker(stack, 401),
        what="every worker to deny the ended session",
    )
    assert _whoami_status(stack, session) == 401  # its refresh token is dead too
    assert (
        "totp not enrolled; recovery codes left: 0" in stack.cli("users", "mfa", user.name).stdout
    )
    # The password alone signs in again (and the user may enrol anew).
    assert stack.login(user.name, user.password) is not None
    again = stack.cli("users", "mfa-reset", user.name)
    assert again.stdout.startswith(f"{user.name}: no second factor to remove;")


def test_users_unlock_clears_the_password_throttle(stack: Stack) -> None:
    name, password = new_user(stack, "cli-unlock")
    limit = int(stack.env.get("VERIFIER_LOGIN_MAX_FAILURES_PER_ACCOUNT", "5"))
    for _ in range(limit):
        wrong = requests.post(
            stack.url("/auth/login"),
            json={"username": name, "password": "wrong-password"},
            timeout=TIMEOUT,
        )
        assert wrong.status_code == 401
    locked = requests.post(
        stack.url("/auth/login"), json={"username": name, "password": password}, timeout=TIMEOUT
    )
    assert locked.status_code == 429

    unlocked = stack.cli("users", "unlock", name)

    assert unlocked.stdout == f"{name}: 1 throttle counter(s) cleared\n"
    assert stack.login(name, password) is not None


def test_a_removed_user_leaves_no_factor_to_a_new_user_of_the_same_name(stack: Stack) -> None:
    user = enrolled_user(stack, "cli-remove")
    assert stack.cli("users", "remove", user.name).returncode == 0

    stack.create_user(user.name, user.password)

    assert (
        "totp not enrolled; recovery codes left: 0" in stack.cli("users", "mfa", user.name).stdout
    )
    assert stack.login(user.name, user.password) is not None
