"""What a session keeps of an upstream sign-in (LDAP, OpenID Connect), against a real
redis-server: the link reads back as written, a re-check is recorded only on a live session,
one worker at a time re-checks, and a provider's session finds the sessions it started."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import redis.asyncio as aioredis

from verifier.sessions.store import SessionPolicy, SessionStore
from verifier.store.keyspace import KeySpace
from verifier.users.sources.interface import UpstreamLink

if TYPE_CHECKING:
    from conftest import RedisServer

T = TypeVar("T")
NOW = 1_796_000_000.0
POLICY = SessionPolicy(
    idle_seconds=600, absolute_seconds=3600, grace_seconds=5, max_sessions_per_user=50
)
LINK = UpstreamLink(
    source="corp-oidc",
    upstream_id="sub-123",
    checked_at=NOW - 12.345,
    upstream_sid="provider-session-1",
    refresh_token="upstream-refresh",
    access_token="upstream-access",
    id_token="upstream-id-token",
)


def _run(redis_server: RedisServer, scenario: Callable[..., Awaitable[T]]) -> T:
    async def main() -> T:
        client = aioredis.Redis.from_url(redis_server.url)
        keys = KeySpace(f"upstream-{secrets.token_hex(4)}")
        try:
            return await scenario(SessionStore(client, keys, POLICY, lambda: NOW), client, keys)
        finally:
            await client.aclose()

    return asyncio.run(main())


def test_an_upstream_sessions_link_reads_back_as_it_was_signed_in(
    redis_server: RedisServer,
) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        session = await store.create("alice", upstream=LINK, recheck_interval=300)

        assert session.sign_in.source == "corp-oidc"
        assert session.recheck_due == LINK.checked_at + 300
        assert await store.upstream_link("alice", session.session_id) == LINK
        # Without an interval nothing is due: the source is not re-checked.
        unchecked = await store.create("alice", upstream=LINK)
        assert unchecked.recheck_due is None

    _run(redis_server, scenario)


def test_a_link_without_tokens_or_provider_session_reads_back_with_empty_ones(
    redis_server: RedisServer,
) -> None:
    # An LDAP sign-in: a source and a time, no provider session and no tokens.
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        ldap = UpstreamLink(source="corp-ldap", upstream_id="uid=bob", checked_at=NOW)
        session = await store.create("bob", upstream=ldap, recheck_interval=60)

        assert await store.upstream_link("bob", session.session_id) == ldap
        assert session.recheck_due == NOW + 60

    _run(redis_server, scenario)


def test_a_local_or_ended_session_has_no_upstream_link(redis_server: RedisServer) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        local = await store.create("alice", recheck_interval=300)
        assert await store.upstream_link("alice", local.session_id) is None
        assert local.recheck_due is None

        linked = await store.create("alice", upstream=LINK)
        await store.revoke("alice", linked.session_id)
        assert await store.upstream_link("alice", linked.session_id) is None
        assert await store.upstream_link("alice", "never-a-session") is None

    _run(redis_server, scenario)


def test_a_session_whose_check_time_is_unreadable_has_no_upstream_link(
    redis_server: RedisServer,
) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        session = await store.create("alice", upstream=LINK)
        key = keys.session("alice", session.session_id)

        await client.hset(key, "checked_ms", "soon")
        assert await store.upstream_link("alice", session.session_id) is None
        await client.hdel(key, "checked_ms")
        assert await store.upstream_link("alice", session.session_id) is None

    _run(redis_server, scenario)


def test_a_recheck_is_recorded_on_a_live_session_and_never_brings_back_an_ended_one(
    redis_server: RedisServer,
) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        session = await store.create("alice", upstream=LINK)
        rotated = UpstreamLink(
            source=LINK.source,
            upstream_id=LINK.upstream_id,
            checked_at=NOW + 30.5,
            upstream_sid=LINK.upstream_sid,
            refresh_token="rotated-refresh",
            access_token="rotated-access",
            id_token="rotated-id-token",
        )

        assert await store.mark_rechecked("alice", session.session_id, rotated) is True
        assert await store.upstream_link("alice", session.session_id) == rotated

        await store.revoke("alice", session.session_id)
        assert await store.mark_rechecked("alice", session.session_id, rotated) is False
        assert not await client.exists(keys.session("alice", session.session_id))

    _run(redis_server, scenario)


def test_one_caller_at_a_time_rechecks_a_session_until_it_releases_or_the_hold_ends(
    redis_server: RedisServer,
) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        assert await store.claim_recheck("alice", "s1", 5.0) is True
        assert await store.claim_recheck("alice", "s1", 5.0) is False
        assert await store.claim_recheck("alice", "s2", 5.0) is True  # another session
        assert await store.claim_recheck("bob", "s1", 5.0) is True  # another user's
        assert 4000 < await client.pttl(keys.recheck_lock("alice", "s1")) <= 5000

        await store.release_recheck("alice", "s1")
        assert await store.claim_recheck("alice", "s1", 5.0) is True

        # A hold under a millisecond is one millisecond (SET PX refuses 0), not an error.
        assert await store.claim_recheck("carol", "s1", 0.0001) is True

    _run(redis_server, scenario)


def test_a_providers_session_finds_every_session_it_started(redis_server: RedisServer) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        first = await store.create("alice", upstream=LINK)
        second = await store.create("bob", upstream=LINK)
        other = UpstreamLink(source=LINK.source, upstream_id="x", checked_at=NOW, upstream_sid="2")
        await store.create("carol", upstream=other)
        await store.create("dave", upstream=UpstreamLink("corp-ldap", "uid=dave", NOW))

        assert await store.sessions_of_upstream(LINK.source, LINK.upstream_sid) == sorted(
            [("alice", first.session_id), ("bob", second.session_id)]
        )
        assert await store.sessions_of_upstream("other-source", LINK.upstream_sid) == []
        assert await store.sessions_of_upstream(LINK.source, "unknown") == []
        # Kept, by the provider session's hash, as long as the longest session it names.
        key = keys.oidc_sessions(LINK.source, hashlib.sha256(b"provider-session-1").hexdigest())
        assert 0 < await client.ttl(key) <= POLICY.absolute_seconds
        # A sign-in without a provider session is indexed nowhere.
        indexed = sorted([k async for k in client.scan_iter(match=f"{keys.prefix}:oidc-sid:*")])
        other_key = keys.oidc_sessions(LINK.source, hashlib.sha256(b"2").hexdigest())
        assert indexed == sorted([key.encode(), other_key.encode()])

    _run(redis_server, scenario)


def test_a_malformed_index_entry_is_skipped(redis_server: RedisServer) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        session = await store.create("alice", upstream=LINK)
        key = keys.oidc_sessions(LINK.source, hashlib.sha256(b"provider-session-1").hexdigest())
        await client.sadd(key, "no-space", " no-user", "no-session ")

        assert await store.sessions_of_upstream(LINK.source, LINK.upstream_sid) == [
            ("alice", session.session_id)
        ]

    _run(redis_server, scenario)
