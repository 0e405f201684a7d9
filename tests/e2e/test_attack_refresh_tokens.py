"""Refresh tokens under attack, through nginx: guessing, splicing, mixing users, fixation,
lifetimes.

Already proven elsewhere and not repeated here: the grace window honours only the previous
token and replay revokes the session (test_silent_refresh.py). The e2e stack's lifetimes
are a day and a week, so the lifetime tests here move a session towards its end in Redis
(as if it had been signed in long ago) and then wait until Redis has let it expire;
test_session_store.py proves the same lifetimes from a fresh login with real TTLs.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import jwt
import redis.asyncio as aioredis
import requests
from attack_helpers import assert_denied, fresh_user, genuine_token
from e2e_helpers import (
    SignedIn,
    cookie_header,
    expired_access_token,
    get_page,
    set_cookie_headers,
    set_cookies,
    sign_in,
    wait_until,
)

from verifier.sessions.store import RefreshToken, SessionPolicy, SessionStore
from verifier.store.keyspace import KeySpace

if TYPE_CHECKING:
    from conftest import Stack

STORE_LOGINS = 1000
HTTP_LOGINS = 40


def _secret_bytes(token: str) -> bytes:
    # user.session.secret@generation: the generation is a public counter, not the secret.
    secret, _at, generation = token.rsplit(".", 2)[2].partition("@")
    assert generation == "0", token  # a login's token starts its session's chain
    raw = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
    # Canonical base64url: no spare bits that would let two spellings mean one secret.
    assert base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == secret
    return raw


def _assert_distinct_256_bit_secrets(tokens: list[str]) -> None:
    assert len(set(tokens)) == len(tokens)
    secrets_seen = [_secret_bytes(token) for token in tokens]
    assert {len(secret) for secret in secrets_seen} == {32}
    assert len(set(secrets_seen)) == len(tokens)
    assert len({token.rsplit(".", 2)[1] for token in tokens}) == len(tokens), "session ids"
    # A CSPRNG sets half the bits; 10 standard deviations of slack at 1,000 x 256 bits.
    ones = sum(bin(byte).count("1") for secret in secrets_seen for byte in secret)
    total = 8 * sum(len(secret) for secret in secrets_seen)
    assert abs(ones / total - 0.5) < 10 * 0.5 / total**0.5


def test_a_thousand_logins_mint_a_thousand_distinct_256_bit_refresh_tokens(
    stack: Stack,
) -> None:
    # Straight through the verifier's SessionStore, which login calls: 1,000 logins over
    # HTTP would spend ~40 s per stack hashing one password. The HTTP path is sampled below.
    name, _ = fresh_user(stack, "many")
    policy = SessionPolicy(
        idle_seconds=86_400,
        absolute_seconds=604_800,
        grace_seconds=stack.refresh_grace_seconds,
        max_sessions_per_user=50,
    )

    async def log_in_many_times() -> list[str]:
        client = aioredis.Redis.from_url(stack.redis_server.url)
        try:
            store = SessionStore(client, KeySpace(stack.key_prefix), policy, time.time)
            return [str((await store.create(name)).refresh_token) for _ in range(STORE_LOGINS)]
        finally:
            await client.aclose()

    tokens = asyncio.run(log_in_many_times())

    assert all(RefreshToken.parse(token).user == name for token in tokens)
    _assert_distinct_256_bit_secrets(tokens)


def test_logins_through_nginx_mint_distinct_256_bit_refresh_tokens(stack: Stack) -> None:
    name, password = fresh_user(stack, "sample")

    with ThreadPoolExecutor(max_workers=4) as pool:
        signed = list(pool.map(lambda _: sign_in(stack, name, password), range(HTTP_LOGINS)))

    _assert_distinct_256_bit_secrets([s.refresh for s in signed])
    assert len({s.access for s in signed}) == HTTP_LOGINS


def _subject(set_cookie_value: str) -> str:
    subject: str = jwt.decode(set_cookie_value, options={"verify_signature": False})["sub"]
    return subject


def test_expired_access_of_one_user_with_refresh_of_another_never_admits_the_first(
    stack: Stack,
) -> None:
    alice = sign_in(stack, *fresh_user(stack, "alice"))
    bob = sign_in(stack, *fresh_user(stack, "bob"))
    alice_expired = expired_access_token(stack, alice.name, alice.session_id)

    response = get_page(stack, cookie=cookie_header(stack, alice_expired, bob.refresh))

    assert response.status_code in (200, 401)
    if response.status_code == 200:
        identity = response.json()
        assert (identity["user"], identity["session"]) == (bob.name, bob.session_id)
        issued = set_cookies(response)
        assert _subject(issued[stack.access_cookie]) == bob.name
        assert issued[stack.refresh_cookie].startswith(bob.name + ".")
    else:
        assert_denied(response)


def _refresh_works(stack: Stack, signed: SignedIn) -> bool:
    check = get_page(
        stack, cookie=cookie_header(stack, genuine_token(stack, signed.name, signed.session_id))
    )
    return check.status_code == 200


def test_refresh_token_relabelled_with_another_user_is_denied(stack: Stack) -> None:
    alice = sign_in(stack, *fresh_user(stack, "alice"))
    bob = sign_in(stack, *fresh_user(stack, "bob"))
    _, session_id, secret = alice.refresh.rsplit(".", 2)

    response = get_page(
        stack, cookie=cookie_header(stack, refresh=f"{bob.name}.{session_id}.{secret}")
    )

    assert_denied(response)
    assert _refresh_works(stack, alice)
    assert _refresh_works(stack, bob)


def test_refresh_token_spliced_from_two_sessions_is_denied(stack: Stack) -> None:
    alice = sign_in(stack, *fresh_user(stack, "alice"))
    alice_again = sign_in(stack, alice.name, alice.password)
    spliced = f"{alice.name}.{alice.session_id}.{alice_again.refresh.rsplit('.', 1)[1]}"

    assert_denied(get_page(stack, cookie=cookie_header(stack, refresh=spliced)))
    assert _refresh_works(stack, alice)
    assert _refresh_works(stack, alice_again)


def test_guessed_secret_for_a_live_session_is_denied_and_does_not_end_it(stack: Stack) -> None:
    victim = sign_in(stack, *fresh_user(stack, "victim"))
    guesses = [f"{victim.name}.{victim.session_id}.{secrets.token_urlsafe(32)}" for _ in range(5)]

    for guess in guesses:
        assert_denied(get_page(stack, cookie=cookie_header(stack, refresh=guess)))

    # Guessing must not be a way to log someone out: the real token still rotates.
    rotated = get_page(stack, cookie=cookie_header(stack, refresh=victim.refresh))
    assert rotated.status_code == 200
    assert stack.refresh_cookie in set_cookies(rotated)


def test_login_with_an_attackers_planted_session_issues_a_fresh_one(stack: Stack) -> None:
    attacker = sign_in(stack, *fresh_user(stack, "attacker"))
    victim_name, victim_password = fresh_user(stack, "victim")

    response = stack.new_session().post(
        stack.url("/auth/login"),
        json={"username": victim_name, "password": victim_password},
        headers={"Cookie": cookie_header(stack, attacker.access, attacker.refresh)},
        timeout=10,
    )

    assert response.status_code == 200
    issued = set_cookies(response)
    assert RefreshToken.parse(issued[stack.refresh_cookie]).user == victim_name
    assert attacker.session_id not in issued[stack.refresh_cookie]
    assert _subject(issued[stack.access_cookie]) == victim_name
    # The planted cookies still name the attacker: nothing of the victim's rubbed off on them.
    planted = get_page(stack, cookie=cookie_header(stack, attacker.access, attacker.refresh))
    assert planted.json()["user"] == attacker.name


# --- lifetimes --------------------------------------------------------------------------------

# What is left of a session moved near its end: a minute, far more than the rotations below
# take on any machine, and far less than the idle timeout (a day) a rotation would renew.
ENDS_IN_MS = 60_000
# ...and what is left once the test moves it nearer still, to see it run out.
LAST_MS = 300


def _max_age(response_set_cookie_lines: list[str], name: str) -> int:
    (line,) = [line for line in response_set_cookie_lines if line.startswith(name + "=")]
    (age,) = [a.split("=", 1)[1] for a in line.split("; ") if a.lower().startswith("max-age=")]
    return int(age)


def _refresh_through_nginx(stack: Stack, refresh: str) -> requests.Response:
    return get_page(stack, cookie=cookie_header(stack, refresh=refresh))


def _move_end_near(stack: Stack, session_key: str, left_ms: int) -> int:
    """Leave the session `left_ms` of its absolute lifetime, as if signed in long ago."""
    end_ms = int(time.time() * 1000) + left_ms
    stack.redis.hset(session_key, "absolute_ms", end_ms)
    stack.redis.pexpire(session_key, left_ms)
    return end_ms


def _wait_until_expired(stack: Stack, session_key: str) -> None:
    """Wait until Redis has let the session's key expire."""
    wait_until(lambda: not stack.redis.exists(session_key), "Redis to expire the session")


def test_rotation_never_extends_the_absolute_lifetime(stack: Stack) -> None:
    signed = sign_in(stack, *fresh_user(stack, "aging"))
    session_key = KeySpace(stack.key_prefix).session(signed.name, signed.session_id)
    end_ms = _move_end_near(stack, session_key, ENDS_IN_MS)

    refresh = signed.refresh
    for _ in range(2):  # every rotation must keep the same end
        rotated = _refresh_through_nginx(stack, refresh)
        assert rotated.status_code == 200, rotated.text
        lines = set_cookie_headers(rotated)
        refresh = set_cookies(rotated)[stack.refresh_cookie]
        assert int(stack.redis.hget(session_key, "absolute_ms") or 0) == end_ms
        assert _max_age(lines, stack.refresh_cookie) <= ENDS_IN_MS // 1000 + 1
        # The stack's access tokens live 5 minutes: this one is cut to the session's end.
        assert _max_age(lines, stack.access_cookie) <= ENDS_IN_MS // 1000 + 1
        access_exp = jwt.decode(
            set_cookies(rotated)[stack.access_cookie], options={"verify_signature": False}
        )["exp"]
        assert access_exp * 1000 <= end_ms + 1000
        assert 0 < stack.redis.pttl(session_key) <= ENDS_IN_MS

    # Nearer still, so that the test need not wait a minute for the end.
    _move_end_near(stack, session_key, LAST_MS)
    _wait_until_expired(stack, session_key)
    after_the_end = _refresh_through_nginx(stack, refresh)

    assert_denied(after_the_end)
    assert not stack.redis.exists(session_key)


def test_session_left_idle_past_its_timeout_is_denied(stack: Stack) -> None:
    signed = sign_in(stack, *fresh_user(stack, "idle"))
    session_key = KeySpace(stack.key_prefix).session(signed.name, signed.session_id)
    # Unused for all but the last LAST_MS of its idle timeout...
    stack.redis.pexpire(session_key, LAST_MS)
    _wait_until_expired(stack, session_key)  # ...and then for those too.

    assert_denied(_refresh_through_nginx(stack, signed.refresh))
    assert_denied(get_page(stack, cookie=cookie_header(stack, signed.access)))


def test_use_before_the_idle_timeout_renews_it(stack: Stack) -> None:
    signed = sign_in(stack, *fresh_user(stack, "active"))
    session_key = KeySpace(stack.key_prefix).session(signed.name, signed.session_id)
    stack.redis.pexpire(session_key, ENDS_IN_MS)  # unused for all but a minute of a day

    rotated = _refresh_through_nginx(stack, signed.refresh)

    assert rotated.status_code == 200, rotated.text
    assert stack.redis.pttl(session_key) > 2 * ENDS_IN_MS  # back to the full idle timeout
