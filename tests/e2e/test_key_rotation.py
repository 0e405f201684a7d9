"""Key rotation on a live stack: nobody is logged out, no process restarts, no app fails.

Each test starts a stack of its own (its keys change) with a 1 s JWKS max-age and a 1 s
reload interval, so the default publish delay is 2 x 1 + 2 x 1 = 4 s, and keys are rotated
with the real `verifier keys` command, exactly as an operator would.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from e2e_helpers import (
    cookie_header,
    get_page,
    new_user,
    set_cookies,
    sign_in,
    verifier_pids,
    wait_until,
)
from keyring_helpers import (
    CachingJwksApp,
    DirectorySigner,
    every_worker_holds,
    every_worker_reloaded_since,
    jwks_kids,
    reload_counts,
    token_expiry,
    token_kid,
)

from verifier.keyring.files import read_key_directory

if TYPE_CHECKING:
    from conftest import Stack, StackFactory

FAST_RELOAD = {
    "VERIFIER_JWKS_MAX_AGE_SECONDS": "1",
    "VERIFIER_KEYS_RELOAD_SECONDS": "1",
}
# Long enough for the old token to outlive the publish delay with room to spare.
ACCESS_TTL_SECONDS = 10
PAUSE_SECONDS = 0.2
SCENARIO_SECONDS = 60.0
# Far longer than the 1 s reload interval and the 4 s publish delay.
RELOAD_SECONDS = 20.0


def kids_by_use(stack: Stack) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {"access": set(), "assertion": set()}
    for key in read_key_directory(stack.keys_dir).keys:
        found[key.use].add(key.kid)
    return found


def rotate(stack: Stack, *args: str) -> dict[str, tuple[str, int]]:
    """Rotate with the CLI; return {use: (new kid, activates_at)}."""
    before = kids_by_use(stack)
    stack.cli("keys", "rotate", *args)
    keys = {key.kid: key for key in read_key_directory(stack.keys_dir).keys}
    added: dict[str, tuple[str, int]] = {}
    for use, kids in kids_by_use(stack).items():
        for kid in kids - before[use]:
            added[use] = (kid, keys[kid].activates_at)
    return added


def test_rotation_mid_session_logs_nobody_out_and_no_app_fails(
    fresh_stack: StackFactory,
) -> None:
    stack = fresh_stack(VERIFIER_ACCESS_TTL_SECONDS=str(ACCESS_TTL_SECONDS), **FAST_RELOAD)
    pids = verifier_pids(stack)
    name, password = new_user(stack)
    idle_name, idle_password = new_user(stack, "idle")
    idle = sign_in(stack, idle_name, idle_password)
    app = CachingJwksApp(stack)
    signer = DirectorySigner(stack)
    app.verify(signer.assertion(idle_name, idle.session_id))

    added = rotate(stack, "--use", "all")  # the default publish delay
    # Signed in between the rotation and the new key's first signature, so the old token
    # outlives that moment by most of its lifetime however long the CLI took to start.
    signed = sign_in(stack, name, password)
    old_access, old_expiry = signed.access, token_expiry(signed.access)
    assert token_kid(old_access) == stack.jwt_kid
    app.verify(signer.assertion(name, signed.session_id))
    new_access_kid, access_activation = added["access"]
    new_assertion_kid, assertion_activation = added["assertion"]

    # Every worker reads the new keys (no restart) and the JWKS lists the new one. That this
    # happens before it signs is what the app below proves: it never refetches early, and
    # fails on any kid its cached copy does not know.
    wait_until(
        lambda: every_worker_holds(stack, new_access_kid, new_assertion_kid),
        "both workers reloaded the keys directory",
        RELOAD_SECONDS,
    )
    assert new_assertion_kid in jwks_kids(stack)

    # Browse through the rotation: a request every PAUSE_SECONDS, the app verifying an
    # assertion each time, the cookie jar following every Set-Cookie.
    access, refresh = signed.access, signed.refresh
    old_token_alone_checked = old_token_expired_checked = False
    access_kids, assertion_kids = [], set()
    deadline = time.monotonic() + SCENARIO_SECONDS
    while not (
        old_token_alone_checked
        and old_token_expired_checked
        and access_kids[-10:] == [new_access_kid] * 10
        and new_assertion_kid in assertion_kids
    ):
        assert time.monotonic() < deadline, (access_kids, assertion_kids)
        now = time.time()
        assertion = signer.assertion(name, signed.session_id)
        assert app.verify(assertion)["sub"] == name
        assertion_kids.add(token_kid(assertion))

        response = get_page(stack, cookie=cookie_header(stack, access, refresh))
        assert response.status_code == 200, "logged out in the middle of the rotation"
        rotated = set_cookies(response)
        access = rotated.get(stack.access_cookie, access)
        refresh = rotated.get(stack.refresh_cookie, refresh)
        access_kids.append(token_kid(access))

        if not old_token_alone_checked and now >= access_activation:
            # The new key signs now; the old token, on its own, still works until its exp.
            if now >= old_expiry - 1:
                pytest.fail("too slow: the old token expired before the rotation took effect")
            alone = get_page(stack, cookie=cookie_header(stack, access=old_access))
            assert alone.status_code == 200
            assert token_kid(access) == stack.jwt_kid  # not refreshed yet: still the old one
            old_token_alone_checked = True
        if not old_token_expired_checked and now >= old_expiry + 1:
            alone = get_page(stack, cookie=cookie_header(stack, access=old_access))
            assert alone.status_code == 401  # expired, like any other token
            old_token_expired_checked = True
        time.sleep(PAUSE_SECONDS)

    # The silent refresh after the old token's exp issued one under the new kid.
    assert access_kids[0] == stack.jwt_kid
    switched = access_kids.index(new_access_kid)
    assert set(access_kids[switched:]) == {new_access_kid}
    assert set(access_kids[:switched]) == {stack.jwt_kid}
    assert assertion_activation <= time.time()
    # A session idle through the whole rotation is still signed in.
    idle_response = get_page(stack, cookie=cookie_header(stack, idle.access, idle.refresh))
    assert idle_response.status_code == 200
    assert idle_response.json()["user"] == idle_name
    # The same processes did it all: the keys were reloaded, not restarted into.
    assert verifier_pids(stack) == pids
    assert app.fetches >= 2


def test_a_broken_key_file_keeps_the_ring_in_use(fresh_stack: StackFactory) -> None:
    stack = fresh_stack(**FAST_RELOAD)
    name, password = new_user(stack)
    before = jwks_kids(stack)
    broken = stack.keys_dir / "assertion-broken.json"
    broken.write_text('{"kid": "assertion-broken", "use": ', encoding="utf-8")
    broken.chmod(0o600)

    log_path = stack.processes["verifier"].log_path
    wait_until(
        lambda: log_path.read_text().count(f"{broken}: is not valid JSON") >= 2,
        "both workers logged the broken file",
        RELOAD_SECONDS,
    )

    assert jwks_kids(stack) == before
    signed = sign_in(stack, name, password)
    assert token_kid(signed.access) == stack.jwt_kid
    assert get_page(stack, cookie=cookie_header(stack, signed.access)).status_code == 200
    # Repaired by removing it, then a rotation is picked up as usual.
    broken.unlink()
    added = rotate(stack, "--use", "assertion")
    new_kid, _ = added["assertion"]
    wait_until(lambda: new_kid in jwks_kids(stack), "the new key was published", RELOAD_SECONDS)


def test_a_withdrawn_access_key_refreshes_its_users_silently(fresh_stack: StackFactory) -> None:
    stack = fresh_stack(**FAST_RELOAD, VERIFIER_ACCESS_TTL_SECONDS="300")
    pids = verifier_pids(stack)
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    compromised = stack.jwt_kid
    assert token_kid(signed.access) == compromised

    # The emergency procedure: a new key that signs at once, then the old one withdrawn.
    new_kid, _ = rotate(stack, "--use", "access", "--publish-seconds", "0")["access"]
    wait_until(
        lambda: every_worker_holds(stack, new_kid), "both workers read the new key", RELOAD_SECONDS
    )
    counts = reload_counts(stack)
    stack.cli("keys", "retire", compromised, "--force")
    wait_until(
        lambda: every_worker_reloaded_since(stack, counts),
        "both workers read the tombstone",
        RELOAD_SECONDS,
    )

    # Its token, still well inside its own lifetime, no longer verifies anything...
    alone = get_page(stack, cookie=cookie_header(stack, access=signed.access))
    assert alone.status_code == 401
    # ...yet its holder is not logged out: the refresh token takes over, silently.
    response = get_page(stack, cookie=cookie_header(stack, signed.access, signed.refresh))
    assert response.status_code == 200
    assert response.json()["user"] == name
    renewed = set_cookies(response)
    assert token_kid(renewed[stack.access_cookie]) == new_kid
    assert verifier_pids(stack) == pids
