"""Pending sign-ins against a real Redis: kept under the id's hash with their TTL, found only
by a well-formed id, finished once, and a failure counted only on a record that exists."""

from __future__ import annotations

import asyncio
import secrets
from typing import TYPE_CHECKING

import redis.asyncio as aioredis

from verifier.sessions.pending_signin import ENROLL, VERIFY, PendingSignIns, pending_id_hash
from verifier.store.keyspace import KeySpace

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from conftest import RedisServer

TTL_SECONDS = 120


def _run(
    redis_server: RedisServer,
    scenario: Callable[[PendingSignIns, aioredis.Redis, KeySpace], Awaitable[None]],
) -> None:
    async def main() -> None:
        keys = KeySpace(f"pending-{secrets.token_hex(4)}")
        client = aioredis.Redis.from_url(redis_server.url)
        try:
            await scenario(PendingSignIns(client, keys, TTL_SECONDS), client, keys)
        finally:
            await client.aclose()

    asyncio.run(main())


def test_a_pending_sign_in_is_kept_under_its_ids_hash_with_its_ttl(
    redis_server: RedisServer,
) -> None:
    async def scenario(pending: PendingSignIns, client: aioredis.Redis, keys: KeySpace) -> None:
        pending_id = await pending.start("alice", "/reports", VERIFY)
        key = keys.pending_signin(pending_id_hash(pending_id))
        assert 0 < await client.ttl(key) <= TTL_SECONDS
        assert [k async for k in client.scan_iter(f"{keys.prefix}:*")] == [key.encode()]
        assert pending_id.encode() not in await client.dump(key)
        found = await pending.find(pending_id)
        assert found is not None
        assert (found.user, found.next_path, found.purpose, found.attempts) == (
            "alice",
            "/reports",
            VERIFY,
            0,
        )

    _run(redis_server, scenario)


def test_an_enrolment_keeps_its_secret_and_is_finished_once(redis_server: RedisServer) -> None:
    async def scenario(pending: PendingSignIns, client: aioredis.Redis, keys: KeySpace) -> None:
        pending_id = await pending.start("bob", "/", ENROLL, totp_secret="JBSWY3DPEHPK3PXP")
        found = await pending.find(pending_id)
        assert found is not None
        assert found.totp_secret == "JBSWY3DPEHPK3PXP"
        assert "JBSWY3DPEHPK3PXP" not in repr(found)
        assert [await pending.finish(pending_id), await pending.finish(pending_id)] == [True, False]
        assert await pending.find(pending_id) is None

    _run(redis_server, scenario)


def test_malformed_or_unknown_ids_find_nothing(redis_server: RedisServer) -> None:
    async def scenario(pending: PendingSignIns, client: aioredis.Redis, keys: KeySpace) -> None:
        for pending_id in (None, "", "short", "x" * 43, "!" * 43, "x" * 44):
            assert await pending.find(pending_id) is None
        assert await pending.finish("not-an-id") is False

    _run(redis_server, scenario)


def test_a_tampered_record_finds_nothing(redis_server: RedisServer) -> None:
    async def scenario(pending: PendingSignIns, client: aioredis.Redis, keys: KeySpace) -> None:
        for field, value in (("user", "Not A User!"), ("purpose", "admin"), ("attempts", "x")):
            pending_id = await pending.start("carol", "/", VERIFY)
            await client.hset(keys.pending_signin(pending_id_hash(pending_id)), field, value)
            assert await pending.find(pending_id) is None, field
        no_secret = await pending.start("carol", "/", ENROLL)
        assert await pending.find(no_secret) is None

    _run(redis_server, scenario)


def test_failures_are_counted_only_on_a_record_that_exists(redis_server: RedisServer) -> None:
    async def scenario(pending: PendingSignIns, client: aioredis.Redis, keys: KeySpace) -> None:
        pending_id = await pending.start("dave", "/", VERIFY)
        assert [await pending.count_failure(pending_id) for _ in range(3)] == [1, 2, 3]
        found = await pending.find(pending_id)
        assert found is not None
        assert found.attempts == 3
        await pending.finish(pending_id)
        assert await pending.count_failure(pending_id) == -1
        # Nothing was created without a TTL.
        assert [k async for k in client.scan_iter(f"{keys.prefix}:*")] == []

    _run(redis_server, scenario)
