"""Single sign-on's session families in the store's Lua scripts, against a real redis-server.

A portal session (bound to the portal's host) and the child sessions it hands to app hosts:
every script that ends a session ends the whole family in the same step, a child never
outlives its portal session, and a child's activity keeps the portal session alive.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import pytest
import redis.asyncio as aioredis

from verifier.errors import RefreshRejected
from verifier.sessions.store import NewSession, SessionPolicy, SessionStore
from verifier.store.keyspace import KeySpace

if TYPE_CHECKING:
    from conftest import RedisServer

T = TypeVar("T")
PORTAL = "auth.corp.example"
WIKI = "wiki.corp.example"
GRAFANA = "grafana.corp.example"
POLICY = SessionPolicy(
    idle_seconds=60, absolute_seconds=600, grace_seconds=5, max_sessions_per_user=3
)


def _run(
    redis_server: RedisServer,
    scenario: Callable[[SessionStore, aioredis.Redis, KeySpace], Awaitable[T]],
) -> T:
    async def main() -> T:
        client = aioredis.Redis.from_url(redis_server.url)
        keys = KeySpace(f"family-{secrets.token_hex(4)}")
        store = SessionStore(client, keys, POLICY, time.time, sign_in_host=PORTAL)
        try:
            return await scenario(store, client, keys)
        finally:
            await client.aclose()

    return asyncio.run(main())


async def _family(store: SessionStore) -> tuple[NewSession, NewSession, NewSession]:
    portal = await store.create("alice")
    wiki = await store.create_child("alice", portal.session_id, WIKI)
    grafana = await store.create_child("alice", portal.session_id, GRAFANA)
    assert wiki is not None and grafana is not None
    return portal, wiki, grafana


async def _live(store: SessionStore, *sessions: NewSession) -> list[bool]:
    return [await store.is_live(s.user, s.session_id) for s in sessions]


def test_a_child_copies_the_portal_sessions_sign_in_and_is_bound_to_its_host(
    redis_server: RedisServer,
) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        portal = await store.create("alice", amr=("pwd", "otp"), auth_time=time.time() - 30)
        assert portal.host == PORTAL
        child = await store.create_child("alice", portal.session_id, WIKI)
        assert child is not None
        assert child.sign_in == portal.sign_in and child.host == WIKI
        # Never past the portal session's end.
        portal_end = int(await client.hget(keys.session("alice", portal.session_id), "absolute_ms"))
        assert child.absolute_expiry == portal_end / 1000
        assert (
            await client.pttl(keys.session("alice", child.session_id)) <= POLICY.idle_seconds * 1000
        )
        # Only the index of sign-ins lists it: the account page shows one session, two hosts.
        grafana = await store.create_child("alice", portal.session_id, GRAFANA)
        assert grafana is not None
        (listed,) = await store.session_details("alice")
        assert listed.session_id == portal.session_id and listed.hosts == (GRAFANA, WIKI)

    _run(redis_server, scenario)


def test_only_a_live_portal_session_hands_off(redis_server: RedisServer) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        portal, wiki, _ = await _family(store)
        # A child cannot hand off, and a session of no family bound to another host neither.
        assert await store.create_child("alice", wiki.session_id, GRAFANA) is None
        other = SessionStore(client, keys, POLICY, time.time, sign_in_host="")
        unbound = await other.create("alice")
        assert await store.create_child("alice", unbound.session_id, GRAFANA) is None
        await store.revoke("alice", portal.session_id)
        assert await store.create_child("alice", portal.session_id, GRAFANA) is None

    _run(redis_server, scenario)


@pytest.mark.parametrize("ended_by", ["portal", "child"])
def test_revoking_any_member_ends_the_whole_family(
    redis_server: RedisServer, ended_by: str
) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        portal, wiki, grafana = await _family(store)
        target = portal if ended_by == "portal" else wiki
        assert await store.revoke("alice", target.session_id)
        assert await _live(store, portal, wiki, grafana) == [False, False, False]
        assert not await client.exists(keys.family("alice", portal.session_id))

    _run(redis_server, scenario)


def test_revoke_all_and_revoke_others_end_families(redis_server: RedisServer) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        kept = await _family(store)
        other = await _family(store)
        ended = await store.revoke_others("alice", kept[1].session_id)  # kept from a child
        assert set(ended) == {s.session_id for s in other}
        assert await _live(store, *kept) == [True, True, True]
        assert await _live(store, *other) == [False, False, False]
        await store.revoke_all("alice")
        assert await _live(store, *kept) == [False, False, False]

    _run(redis_server, scenario)


def test_a_portal_session_evicted_past_the_limit_takes_its_children(
    redis_server: RedisServer,
) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        oldest = await _family(store)
        for _ in range(POLICY.max_sessions_per_user):
            await store.create("alice")
        assert await _live(store, *oldest) == [False, False, False]

    _run(redis_server, scenario)


def test_a_replayed_child_refresh_token_ends_the_family(redis_server: RedisServer) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        portal, wiki, grafana = await _family(store)
        first = await store.refresh(str(wiki.refresh_token), WIKI)
        assert first.new_refresh_token is not None
        await store.refresh(str(first.new_refresh_token), WIKI)
        with pytest.raises(RefreshRejected, match="replayed"):
            await store.refresh(str(wiki.refresh_token), WIKI)
        assert await _live(store, portal, wiki, grafana) == [False, False, False]

    _run(redis_server, scenario)


def test_a_refresh_token_on_another_host_is_refused_and_not_rotated(
    redis_server: RedisServer,
) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        _, wiki, _ = await _family(store)
        key = keys.session("alice", wiki.session_id)
        before = await client.hgetall(key)
        for host in (GRAFANA, PORTAL, "wiki.corp.example.", "WIKI.corp.example"):
            with pytest.raises(RefreshRejected, match="wrong_host"):
                await store.refresh(str(wiki.refresh_token), host)
        assert await client.hgetall(key) == before
        assert (await store.refresh(str(wiki.refresh_token), WIKI)).new_refresh_token is not None

    _run(redis_server, scenario)


def test_a_childs_rotation_keeps_the_portal_session_alive(redis_server: RedisServer) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        portal, wiki, _ = await _family(store)
        portal_key = keys.session("alice", portal.session_id)
        # As if the portal session had been idle for most of its timeout.
        await client.pexpire(portal_key, 1000)
        await store.refresh(str(wiki.refresh_token), WIKI)
        assert await client.pttl(portal_key) > 50_000

    _run(redis_server, scenario)


def test_a_child_never_outlives_its_portal_session(redis_server: RedisServer) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        portal, wiki, _ = await _family(store)
        # The portal session gone by itself (its TTL), not by a revocation.
        await client.delete(keys.session("alice", portal.session_id))
        with pytest.raises(RefreshRejected, match="unknown"):
            await store.refresh(str(wiki.refresh_token), WIKI)
        assert not await store.is_live("alice", wiki.session_id)

    _run(redis_server, scenario)


def test_a_returning_code_ends_its_child_even_before_it_is_made(
    redis_server: RedisServer,
) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        portal, wiki, grafana = await _family(store)
        assert await store.end_handed_off("alice", wiki.session_id, 60)
        assert await _live(store, portal, wiki, grafana) == [True, False, True]
        # The replay raced the redemption: the child named in the spent mark is never made.
        named = secrets.token_urlsafe(16)
        assert not await store.end_handed_off("alice", named, 60)
        assert await store.create_child("alice", portal.session_id, WIKI, session_id=named) is None

    _run(redis_server, scenario)


def test_a_new_hand_off_replaces_this_browsers_child_on_that_host(
    redis_server: RedisServer,
) -> None:
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        portal, wiki, grafana = await _family(store)
        again = await store.create_child(
            "alice", portal.session_id, WIKI, replacing=wiki.session_id
        )
        assert again is not None
        assert await _live(store, portal, wiki, grafana, again) == [True, False, True, True]

    _run(redis_server, scenario)


async def _end_by(how: str, store: SessionStore, family: tuple[NewSession, ...]) -> None:
    portal, wiki, _ = family
    if how == "portal logout":
        await store.revoke("alice", portal.session_id)
    elif how == "child logout":
        await store.revoke("alice", wiki.session_id)
    elif how == "replayed refresh":
        first = await store.refresh(str(wiki.refresh_token), WIKI)
        assert first.new_refresh_token is not None
        await store.refresh(str(first.new_refresh_token), WIKI)
        with pytest.raises(RefreshRejected, match="replayed"):
            await store.refresh(str(wiki.refresh_token), WIKI)
    elif how == "others logged out":
        await store.revoke_others("alice", (await store.create("alice")).session_id)
    else:  # evicted: the oldest sign-in past the per-user limit
        for _ in range(POLICY.max_sessions_per_user):
            await store.create("alice")


@pytest.mark.parametrize(
    "how", ["portal logout", "child logout", "replayed refresh", "others logged out", "evicted"]
)
def test_every_member_of_an_ended_family_is_announced_to_every_worker(
    redis_server: RedisServer, how: str
) -> None:
    # Workers cache "this session is live" and forget it when the revocation channel names
    # it: a family member ended without a message would stay signed in on its host.
    async def scenario(store: SessionStore, client: aioredis.Redis, keys: KeySpace) -> None:
        family = await _family(store)
        pubsub = client.pubsub()
        await pubsub.subscribe(keys.revocations())
        confirmed = await pubsub.get_message(timeout=10)
        assert confirmed is not None and confirmed["type"] == "subscribe"
        await _end_by(how, store, family)
        expected = {f"s alice {member.session_id}" for member in family}
        heard: set[str] = set()
        deadline = time.monotonic() + 10
        while not expected <= heard and time.monotonic() < deadline:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
            if message is not None:
                heard.add(message["data"].decode())
        await pubsub.aclose()
        assert expected <= heard, f"never announced: {sorted(expected - heard)}"
        assert await _live(store, *family) == [False, False, False]

    _run(redis_server, scenario)
