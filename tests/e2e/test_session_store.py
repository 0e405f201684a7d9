"""The session store's Lua scripts against a real redis-server, with real TTLs."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import pytest
import redis.asyncio as aioredis
from e2e_helpers import SETTLE_SECONDS

from verifier.errors import RefreshRejected, StoreUnavailable
from verifier.sessions.liveness import LivenessCache
from verifier.sessions.store import RefreshToken, RotationOutcome, SessionPolicy, SessionStore
from verifier.store.keyspace import KeySpace

if TYPE_CHECKING:
    from conftest import RedisServer

T = TypeVar("T")


class Clock:
    """The wall clock, which the test can also move forward by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _run(
    redis_server: RedisServer,
    policy: SessionPolicy,
    scenario: Callable[..., Awaitable[T]],
    clock: Callable[[], float] = time.time,
) -> T:
    """Run `scenario(store, client, keys)` on a fresh client and key prefix."""

    async def main() -> T:
        client = aioredis.Redis.from_url(redis_server.url)
        keys = KeySpace(f"store-{secrets.token_hex(4)}")
        try:
            return await scenario(SessionStore(client, keys, policy, clock), client, keys)
        finally:
            await client.aclose()

    return asyncio.run(main())


async def _until_expired(client: aioredis.Redis, key: str) -> bool:
    """Wait until Redis has let `key` expire; False if it is still there after a while."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while await client.exists(key):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def _policy(**overrides: int) -> SessionPolicy:
    values = {
        "idle_seconds": 60,
        "absolute_seconds": 600,
        "grace_seconds": 5,
        "max_sessions_per_user": 50,
    }
    values.update(overrides)
    return SessionPolicy(**values)


def test_every_session_key_has_a_ttl(redis_server: RedisServer) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        session = await store.create("alice")
        rotated = await store.refresh(str(session.refresh_token))
        await store.refresh(str(rotated.new_refresh_token))  # now a token is retired
        found = [key async for key in client.scan_iter(match=f"{keys.prefix}:*")]
        assert len(found) == 3  # session, its index, its retired-token set
        for key in found:
            assert 0 < await client.ttl(key) <= 600, key

    _run(redis_server, _policy(), scenario)


def test_idle_session_expires_without_use(redis_server: RedisServer) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        session = await store.create("alice")
        await asyncio.sleep(1.2)
        assert not await store.is_live("alice", session.session_id)
        with pytest.raises(RefreshRejected, match="unknown"):
            await store.refresh(str(session.refresh_token))

    _run(redis_server, _policy(idle_seconds=1, absolute_seconds=60), scenario)


def test_rotation_renews_idle_time_but_never_the_absolute_lifetime(
    redis_server: RedisServer,
) -> None:
    # The store's clock says how much of the lifetime has passed; Redis's own clock runs the
    # TTLs the rotations set, which the test reads rather than races.
    clock = Clock()

    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        session = await store.create("alice")
        key = keys.session("alice", session.session_id)
        await client.pexpire(key, 10_000)  # unused for 50 s of its idle minute...
        token = await _rotated(store, session.refresh_token)
        assert 50_000 < await client.pttl(key) <= 60_000  # ...then used: a whole minute again

        clock.now += 590  # in use all along, and 10 s from the end of its 10 minutes
        token = await _rotated(store, token)
        assert 0 < await client.pttl(key) <= 10_000  # not the idle minute: only what is left

        clock.now += 9.7  # the last 300 ms: a rotation grants just those, and Redis ends it
        await _rotated(store, token)
        assert 0 < await client.pttl(key) <= 300
        assert await _until_expired(client, key)
        assert not await store.is_live("alice", session.session_id)

    _run(redis_server, _policy(idle_seconds=60, absolute_seconds=600), scenario, clock)


def test_refresh_at_the_absolute_end_ends_the_session(redis_server: RedisServer) -> None:
    # Even before Redis has expired the key: the script compares its clock with the end.
    clock = Clock()

    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        session = await store.create("alice")
        clock.now += 600
        with pytest.raises(RefreshRejected, match="unknown"):
            await store.refresh(str(session.refresh_token))
        assert not await client.exists(keys.session("alice", session.session_id))

    _run(redis_server, _policy(idle_seconds=60, absolute_seconds=600), scenario, clock)


async def _rotated(store: SessionStore, token: RefreshToken) -> RefreshToken:
    refreshed = await store.refresh(str(token))
    assert refreshed.outcome is RotationOutcome.ROTATED
    assert refreshed.new_refresh_token is not None
    return refreshed.new_refresh_token


def test_login_past_the_cap_ends_the_oldest_session(redis_server: RedisServer) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        first = await store.create("alice")
        second = await store.create("alice")
        third = await store.create("alice")
        assert not await store.is_live("alice", first.session_id)
        live = await store.list_sessions("alice")
        assert sorted(live) == sorted([second.session_id, third.session_id])

    _run(redis_server, _policy(max_sessions_per_user=2), scenario)


def test_unknown_secret_for_a_live_session_is_denied_without_revoking(
    redis_server: RedisServer,
) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        session = await store.create("alice")
        guessed = f"alice.{session.session_id}.{'A' * 43}"
        with pytest.raises(RefreshRejected, match="unknown"):
            await store.refresh(guessed)
        # Knowing a session id is not enough to end someone's session.
        assert await store.is_live("alice", session.session_id)

    _run(redis_server, _policy(), scenario)


def test_refresh_token_of_one_user_cannot_name_another(redis_server: RedisServer) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        alice = await store.create("alice")
        await store.create("bob")
        _, session_id, secret = str(alice.refresh_token).split(".")
        with pytest.raises(RefreshRejected):
            await store.refresh(f"bob.{session_id}.{secret}")
        refreshed = await store.refresh(str(alice.refresh_token))
        assert refreshed.user == "alice"

    _run(redis_server, _policy(), scenario)


def test_revoke_all_ends_only_that_users_sessions(redis_server: RedisServer) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        alices = [await store.create("alice") for _ in range(3)]
        bob = await store.create("bob")
        ended = await store.revoke_all("alice")
        assert sorted(ended) == sorted(s.session_id for s in alices)
        assert await store.list_sessions("alice") == []
        assert await store.is_live("bob", bob.session_id)

    _run(redis_server, _policy(), scenario)


def test_only_the_hash_of_the_refresh_secret_is_stored(redis_server: RedisServer) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        session = await store.create("alice")
        stored = await client.hgetall(keys.session("alice", session.session_id))
        dump = b" ".join(value for pair in stored.items() for value in pair)
        assert session.refresh_token.secret.encode() not in dump
        assert session.refresh_token.secret_hash.encode() in dump

    _run(redis_server, _policy(), scenario)


def test_store_reports_an_unreachable_redis_as_unavailable() -> None:
    async def main() -> None:
        client = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
        store = SessionStore(client, KeySpace("down"), _policy(), time.time)
        with pytest.raises(StoreUnavailable):
            await store.is_live("alice", "x" * 22)
        with pytest.raises(StoreUnavailable):
            await store.create("alice")
        await client.aclose()

    asyncio.run(main())


def test_live_groups_are_the_users_own_and_upstream_groups_while_the_session_lives(
    redis_server: RedisServer,
) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        session = await store.create("alice")
        await client.hset(
            keys.user("alice"), mapping={"groups": "ops,dev", "upstream_groups": "hr"}
        )
        assert await store.live_groups("alice", session.session_id) == ("dev", "hr", "ops")
        assert await store.is_live("alice", session.session_id)
        # Without a liveness cache nothing is known without asking Redis.
        assert store.cached_live_groups("alice", session.session_id) is None
        assert await store.live_groups("bob", session.session_id) is None
        await store.revoke("alice", session.session_id)
        assert await store.live_groups("alice", session.session_id) is None
        assert not await store.is_live("alice", session.session_id)

    _run(redis_server, _policy(), scenario)


def test_a_trusted_liveness_cache_answers_from_what_redis_last_said(
    redis_server: RedisServer,
) -> None:
    clock = Clock()
    cache = LivenessCache(clock, max_age_seconds=30)
    cache.trust()

    async def scenario(client: aioredis.Redis, keys: KeySpace) -> None:
        store = SessionStore(client, keys, _policy(), clock, liveness=cache)
        session = await store.create("alice")
        await client.hset(keys.user("alice"), "groups", "ops")
        assert store.cached_live_groups("alice", session.session_id) is None
        assert await store.live_groups("alice", session.session_id) == ("ops",)
        assert store.cached_live_groups("alice", session.session_id) == ("ops",)
        # Gone from Redis without a revocation message (a restart without persistence):
        # the cache answers until its entry's age runs out, then Redis says ended.
        await client.delete(keys.session("alice", session.session_id))
        assert await store.live_groups("alice", session.session_id) == ("ops",)
        clock.now += 31
        assert store.cached_live_groups("alice", session.session_id) is None
        assert await store.live_groups("alice", session.session_id) is None

    async def main() -> None:
        client = aioredis.Redis.from_url(redis_server.url)
        try:
            await scenario(client, KeySpace(f"store-{secrets.token_hex(4)}"))
        finally:
            await client.aclose()

    asyncio.run(main())


def test_refresh_hashes_are_the_current_and_previous_tokens_of_a_live_session(
    redis_server: RedisServer,
) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        session = await store.create("alice")
        first = session.refresh_token
        assert await store.refresh_hashes("alice", session.session_id) == [first.secret_hash]
        rotated = await store.refresh(str(first))
        second = rotated.new_refresh_token
        assert second is not None
        assert await store.refresh_hashes("alice", session.session_id) == [
            second.secret_hash,
            first.secret_hash,
        ]
        # A session not bound to a host has none for a host that asks (single sign-on).
        assert await store.refresh_hashes("alice", session.session_id, "wiki.example") == []
        await store.revoke("alice", session.session_id)
        assert await store.refresh_hashes("alice", session.session_id) == []

    _run(redis_server, _policy(), scenario)


def test_refresh_hashes_for_a_host_only_of_a_session_bound_to_that_host(
    redis_server: RedisServer,
) -> None:
    async def scenario(client: aioredis.Redis, keys: KeySpace) -> None:
        store = SessionStore(client, keys, _policy(), time.time, sign_in_host="portal.example")
        session = await store.create("alice")
        hashes = [session.refresh_token.secret_hash]
        assert await store.refresh_hashes("alice", session.session_id, "portal.example") == hashes
        assert await store.refresh_hashes("alice", session.session_id, "wiki.example") == []
        assert await store.refresh_hashes("alice", session.session_id) == hashes

    async def main() -> None:
        client = aioredis.Redis.from_url(redis_server.url)
        try:
            await scenario(client, KeySpace(f"store-{secrets.token_hex(4)}"))
        finally:
            await client.aclose()

    asyncio.run(main())


def test_a_refresh_carries_the_users_groups_and_a_replay_forgets_the_session_here_at_once(
    redis_server: RedisServer,
) -> None:
    clock = Clock()
    cache = LivenessCache(clock, max_age_seconds=30)
    cache.trust()

    async def scenario(client: aioredis.Redis, keys: KeySpace) -> None:
        store = SessionStore(client, keys, _policy(), clock, liveness=cache)
        session = await store.create("alice")
        await client.hset(keys.user("alice"), mapping={"groups": "ops", "upstream_groups": "hr"})
        first = await store.refresh(str(session.refresh_token))
        assert first.groups == ("hr", "ops")
        assert first.new_refresh_token is not None
        await store.refresh(str(first.new_refresh_token))
        assert await store.live_groups("alice", session.session_id) == ("hr", "ops")
        # The first token, two rotations old: a replay. The session ends, and this worker's
        # cache forgets it without waiting for the revocation message to come back.
        with pytest.raises(RefreshRejected, match="replayed"):
            await store.refresh(str(session.refresh_token))
        assert store.cached_live_groups("alice", session.session_id) is None

    async def main() -> None:
        client = aioredis.Redis.from_url(redis_server.url)
        try:
            await scenario(client, KeySpace(f"store-{secrets.token_hex(4)}"))
        finally:
            await client.aclose()

    asyncio.run(main())
