"""How and when a session signed in (amr, auth_time): recorded at creation, carried by every
refresh, strengthened in place by a step-up; the store's Lua scripts on a real redis-server."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import pytest
import redis.asyncio as aioredis

from verifier.factors.methods import LOCAL_SOURCE, SignIn
from verifier.gate import Gate, SessionRef
from verifier.sessions.store import RotationOutcome, SessionPolicy, SessionStore
from verifier.sessions.tokens import AccessTokenCodec
from verifier.settings import Settings, SigningKey
from verifier.store.keyspace import KeySpace
from verifier.users.sources.interface import UpstreamLink
from verifier.web.cookies import CookiePolicy

if TYPE_CHECKING:
    from conftest import RedisServer

T = TypeVar("T")
POLICY = SessionPolicy(
    idle_seconds=600, absolute_seconds=3600, grace_seconds=30, max_sessions_per_user=50
)


class Clock:
    """A clock the test moves by hand; Redis TTLs still run on Redis's own."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now


def _run(
    redis_server: RedisServer,
    scenario: Callable[[SessionStore, aioredis.Redis, KeySpace], Awaitable[T]],
    clock: Callable[[], float] = time.time,
) -> T:
    async def main() -> T:
        client = aioredis.Redis.from_url(redis_server.url)
        keys = KeySpace(f"signin-{secrets.token_hex(4)}")
        try:
            return await scenario(SessionStore(client, keys, POLICY, clock), client, keys)
        finally:
            await client.aclose()

    return asyncio.run(main())


def test_a_session_records_how_and_when_its_user_signed_in(redis_server: RedisServer) -> None:
    clock = Clock()

    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        default = await store.create("alice")
        assert default.sign_in == SignIn(("pwd",), int(clock.now))
        chosen = await store.create("alice", amr=("pwd", "otp", "otp"), auth_time=clock.now - 90)
        assert chosen.sign_in == SignIn(("pwd", "otp"), int(clock.now) - 90)
        stored = await client.hmget(keys.session("alice", chosen.session_id), ["amr", "auth_time"])
        assert stored == [b"pwd,otp", str(int(clock.now) - 90).encode()]

    _run(redis_server, scenario, clock)


@pytest.mark.parametrize("amr", [(), ("pwd", "sms"), ("PWD",)])
def test_a_session_is_never_created_with_unknown_methods(
    redis_server: RedisServer, amr: tuple[str, ...]
) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        with pytest.raises(ValueError, match="amr"):
            await store.create("alice", amr=amr)
        assert await client.exists(keys.session_index("alice")) == 0

    _run(redis_server, scenario)


def test_a_refresh_carries_the_sign_in_unchanged_because_it_is_not_one(
    redis_server: RedisServer,
) -> None:
    clock = Clock()

    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        signed_in_at = int(clock.now)
        session = await store.create("alice", amr=("hwk", "pin"))
        clock.now += 500
        rotated = await store.refresh(str(session.refresh_token))
        assert rotated.outcome is RotationOutcome.ROTATED
        assert rotated.sign_in == SignIn(("hwk", "pin"), signed_in_at)
        # The token just rotated out, inside its grace window: same answer.
        grace = await store.refresh(str(session.refresh_token))
        assert grace.outcome is RotationOutcome.GRACE
        assert grace.sign_in == SignIn(("hwk", "pin"), signed_in_at)

    _run(redis_server, scenario, clock)


def test_a_session_from_before_sign_ins_were_recorded_counts_as_a_password_at_creation(
    redis_server: RedisServer,
) -> None:
    clock = Clock()

    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        session = await store.create("alice", amr=("pwd", "otp"))
        key = keys.session("alice", session.session_id)
        await client.hdel(key, "amr", "auth_time")
        await client.hset(key, "created_ms", int(clock.now - 300) * 1000)
        rotated = await store.refresh(str(session.refresh_token))
        assert rotated.sign_in == SignIn(("pwd",), int(clock.now) - 300)
        stepped = await store.step_up("alice", session.session_id, ("otp",), clock.now)
        assert stepped is not None
        assert stepped.sign_in == SignIn(("pwd", "otp"), int(clock.now))

    _run(redis_server, scenario, clock)


def test_a_step_up_adds_methods_and_never_removes_any(redis_server: RedisServer) -> None:
    clock = Clock()

    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        session = await store.create("alice", auth_time=clock.now - 600)
        key = keys.session("alice", session.session_id)
        ttl_before = await client.pttl(key)
        stepped = await store.step_up("alice", session.session_id, ("otp",))
        assert stepped is not None
        assert stepped.sign_in == SignIn(("pwd", "otp"), int(clock.now))
        assert stepped.absolute_expiry == pytest.approx(clock.now + POLICY.absolute_seconds, abs=1)
        # A weaker proof later keeps what the session had.
        clock.now += 60
        again = await store.step_up("alice", session.session_id, ("pwd",))
        assert again is not None
        assert again.sign_in == SignIn(("pwd", "otp"), int(clock.now))
        # A step-up told of an older sign-in never turns the session's clock back.
        older = await store.step_up("alice", session.session_id, ("rcv",), clock.now - 3000)
        assert older is not None
        assert older.sign_in == SignIn(("pwd", "otp", "rcv"), int(clock.now))
        # The lifetimes are not touched: only the idle TTL's own countdown moved.
        assert 0 < await client.pttl(key) <= ttl_before
        # The next refresh carries the stronger sign-in.
        rotated = await store.refresh(str(session.refresh_token))
        assert rotated.sign_in == SignIn(("pwd", "otp", "rcv"), int(clock.now))

    _run(redis_server, scenario, clock)


def test_a_step_up_of_an_ended_session_says_so_and_creates_nothing(
    redis_server: RedisServer,
) -> None:
    clock = Clock()

    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        session = await store.create("alice")
        await store.revoke("alice", session.session_id)
        assert await store.step_up("alice", session.session_id, ("otp",)) is None
        assert await client.exists(keys.session("alice", session.session_id)) == 0
        assert await store.step_up("alice", "no-such-session-000000", ("otp",)) is None
        # Past its absolute lifetime (the TTL is about to end it): not strengthened either.
        late = await store.create("alice")
        clock.now += POLICY.absolute_seconds
        assert await store.step_up("alice", late.session_id, ("otp",)) is None
        fields = await client.hmget(keys.session("alice", late.session_id), ["amr"])
        assert fields == [b"pwd"]

    _run(redis_server, scenario, clock)


def test_a_step_up_refuses_unknown_methods(redis_server: RedisServer) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        session = await store.create("alice")
        with pytest.raises(ValueError, match="amr"):
            await store.step_up("alice", session.session_id, ("sms",))
        assert await client.hget(keys.session("alice", session.session_id), "amr") == b"pwd"

    _run(redis_server, scenario)


def test_the_gate_hands_out_an_access_cookie_saying_the_stronger_sign_in(
    redis_server: RedisServer,
) -> None:
    clock = Clock()
    settings = Settings(redis_url=redis_server.url, signing_keys=(SigningKey("k1", b"s" * 32),))
    codec = AccessTokenCodec(settings)
    cookies = CookiePolicy(secure=False)

    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        gate = Gate(codec, store, cookies, clock)
        session = await store.create("alice", auth_time=clock.now - 1200)
        set_cookie = await gate.step_up(SessionRef("alice", session.session_id), ("otp",))
        assert set_cookie is not None
        name, _, rest = set_cookie.partition("=")
        assert name == cookies.access_name
        claims = codec.verify(rest.split(";", 1)[0], clock.now)
        assert claims.sign_in == SignIn(("pwd", "otp"), int(clock.now))
        await store.revoke("alice", session.session_id)
        assert await gate.step_up(SessionRef("alice", session.session_id), ("otp",)) is None

    _run(redis_server, scenario, clock)


def test_the_stored_sign_in_is_read_afresh_and_none_once_the_session_ends(
    redis_server: RedisServer,
) -> None:
    # The portal's authorize endpoint and the account pages read it from Redis, not from
    # the access token: a step-up made since shows, and an ended session has none.
    clock = Clock()

    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        read = store.stored_sign_in
        session = await store.create("alice", amr=("pwd",), auth_time=clock.now - 90)
        assert await read("alice", session.session_id) == SignIn(("pwd",), int(clock.now) - 90)
        await store.step_up("alice", session.session_id, ("otp",), clock.now)
        assert await read("alice", session.session_id) == SignIn(("pwd", "otp"), int(clock.now))
        assert await read("bob", session.session_id) is None
        await store.revoke("alice", session.session_id)
        assert await read("alice", session.session_id) is None

    _run(redis_server, scenario, clock)


def test_a_stored_sign_in_without_its_time_is_as_old_as_the_session(
    redis_server: RedisServer,
) -> None:
    clock = Clock()

    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        session = await store.create("alice", amr=("pwd", "otp"))
        key = keys.session("alice", session.session_id)
        await client.hdel(key, "auth_time")
        await client.hset(key, "created_ms", int(clock.now - 300) * 1000)
        found = await store.stored_sign_in("alice", session.session_id)
        assert found == SignIn(("pwd", "otp"), int(clock.now) - 300)

    _run(redis_server, scenario, clock)


def test_the_stored_sign_in_names_the_source_the_user_came_through(
    redis_server: RedisServer,
) -> None:
    # The portal reads it to hand the session on: a directory user's must not read as local.
    clock = Clock()

    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        link = UpstreamLink(source="ldap:corp", upstream_id="uid=alice", checked_at=clock.now)
        session = await store.create("alice", upstream=link)
        found = await store.stored_sign_in("alice", session.session_id)
        assert found is not None and found.source == "ldap:corp" and found.upstream
        local = await store.create("bob")
        found = await store.stored_sign_in("bob", local.session_id)
        assert found is not None and found.source == LOCAL_SOURCE and not found.upstream

    _run(redis_server, scenario, clock)
