"""What a session records for the account page, and ending all but one, on real Redis."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from e2e_helpers import watching_revocations

from verifier.sessions.store import (
    MAX_ADDRESS_LENGTH,
    MAX_DEVICE_LENGTH,
    SessionPolicy,
    SessionStore,
)
from verifier.store.keyspace import KeySpace

if TYPE_CHECKING:
    from conftest import RedisServer

POLICY = SessionPolicy(
    idle_seconds=600, absolute_seconds=3600, grace_seconds=5, max_sessions_per_user=10
)


class Clock:
    """A wall clock the test moves forward by hand."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now


def test_a_session_records_device_address_start_and_last_rotation(
    redis_server: RedisServer,
) -> None:
    clock = Clock()

    async def main() -> None:
        client = aioredis.Redis.from_url(redis_server.url)
        store = SessionStore(client, KeySpace(f"details-{secrets.token_hex(4)}"), POLICY, clock)
        try:
            started = clock.now
            new = await store.create(
                "alice", device="Chrome on Linux" + "x" * 500, address="192.0.2.7" + "9" * 500
            )
            (shown,) = await store.session_details("alice")
            assert shown.session_id == new.session_id
            assert shown.device == ("Chrome on Linux" + "x" * 500)[:MAX_DEVICE_LENGTH]
            assert shown.address == ("192.0.2.7" + "9" * 500)[:MAX_ADDRESS_LENGTH]
            assert shown.started == started
            assert shown.last_used == started  # not refreshed yet

            clock.now += 120
            await store.refresh(str(new.refresh_token))
            (after,) = await store.session_details("alice")
            assert after.started == started
            assert after.last_used == started + 120
        finally:
            await client.aclose()

    asyncio.run(main())


def test_revoke_others_ends_every_session_but_the_kept_one_and_publishes_each(
    redis_server: RedisServer,
) -> None:
    keys = KeySpace(f"others-{secrets.token_hex(4)}")

    async def main() -> tuple[list[str], list[str], list[str], list[str], list[str]]:
        client = aioredis.Redis.from_url(redis_server.url)
        store = SessionStore(client, keys, POLICY, time.time)
        try:
            kept = await store.create("alice", device="A")
            others = [(await store.create("alice", device="B")).session_id for _ in range(2)]
            bob = await store.create("bob")
            ended = await store.revoke_others("alice", kept.session_id)
            live = [s.session_id for s in await store.session_details("alice")]
            again = await store.revoke_others("alice", kept.session_id)
            bobs = await store.list_sessions("bob")
            return others, ended, live, again, [kept.session_id, bob.session_id, *bobs]
        finally:
            await client.aclose()

    with watching_revocations(redis_server.url, keys.revocations()) as watch:
        others, ended, live, again, (kept_id, bob_id, *bobs) = asyncio.run(main())
        assert sorted(ended) == sorted(others)
        assert live == [kept_id]
        assert again == []  # nothing left to end
        assert bobs == [bob_id]  # another user's sessions are untouched
        for session_id in others:
            watch.wait_for(f"s alice {session_id}")
        assert f"s alice {kept_id}" not in watch.heard


def test_the_account_page_lists_live_sessions_oldest_first_with_their_sign_in_and_hosts(
    redis_server: RedisServer,
) -> None:
    clock = Clock()
    keys = KeySpace(f"details-{secrets.token_hex(4)}")

    async def main() -> None:
        client = aioredis.Redis.from_url(redis_server.url)
        store = SessionStore(client, keys, POLICY, clock, sign_in_host="portal.example")
        try:
            assert await store.session_details("alice") == []
            first = await store.create("alice", amr=("pwd", "otp"))
            clock.now += 10
            second = await store.create("alice", amr=("hwk", "pin"))
            clock.now += 10
            gone = await store.create("alice")
            wiki = await store.create_child("alice", first.session_id, "wiki.example")
            ended = await store.create_child("alice", first.session_id, "grafana.example")
            assert wiki is not None and ended is not None
            # Ended without being pruned from the index (or the family): left out.
            await client.delete(keys.session("alice", gone.session_id))
            await client.delete(keys.session("alice", ended.session_id))
            # A session from before last use was recorded was last used when it started.
            await client.hdel(keys.session("alice", second.session_id), "used_ms")
            listed = await store.session_details("alice")
            assert [s.session_id for s in listed] == [first.session_id, second.session_id]
            assert [s.amr for s in listed] == [("pwd", "otp"), ("hwk", "pin")]
            assert [s.hosts for s in listed] == [("wiki.example",), ()]
            assert (listed[0].device, listed[0].address) == ("", "")
            assert listed[1].started == listed[1].last_used == clock.now - 10
        finally:
            await client.aclose()

    asyncio.run(main())
