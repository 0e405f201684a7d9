"""Recovery codes against a real Redis: each works once, a new set voids the old one, the
count left is right, and Redis keeps only hashes."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis

from verifier.factors import CODES_PER_SET, RecoveryCodes
from verifier.store.keyspace import KeySpace

if TYPE_CHECKING:
    from conftest import RedisServer


Scenario = Callable[[RecoveryCodes, KeySpace, aioredis.Redis], Awaitable[Any]]


async def _with_codes(redis_server: RedisServer, scenario: Scenario) -> Any:
    keys = KeySpace(f"recovery-{secrets.token_hex(4)}")
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        return await scenario(RecoveryCodes(client, keys), keys, client)
    finally:
        await client.aclose()


def test_a_code_works_once_and_the_count_goes_down(redis_server: RedisServer) -> None:
    async def scenario(
        codes: RecoveryCodes, keys: KeySpace, client: aioredis.Redis
    ) -> list[object]:
        issued = await codes.regenerate("alice")
        return [
            await codes.remaining("alice"),
            await codes.use("alice", issued[3].upper()),
            await codes.use("alice", issued[3]),
            await codes.remaining("alice"),
            await codes.use("bob", issued[4]),  # another user's set is another set
        ]

    assert asyncio.run(_with_codes(redis_server, scenario)) == [
        CODES_PER_SET, True, False, CODES_PER_SET - 1, False,
    ]  # fmt: skip


def test_a_new_set_voids_every_code_of_the_old_one(redis_server: RedisServer) -> None:
    async def scenario(
        codes: RecoveryCodes, keys: KeySpace, client: aioredis.Redis
    ) -> list[object]:
        old = await codes.regenerate("alice")
        new = await codes.regenerate("alice")
        return [
            any([await codes.use("alice", code) for code in old]),
            await codes.remaining("alice"),
            await codes.use("alice", new[0]),
        ]

    assert asyncio.run(_with_codes(redis_server, scenario)) == [False, CODES_PER_SET, True]


def test_redis_keeps_no_code_itself(redis_server: RedisServer) -> None:
    async def scenario(codes: RecoveryCodes, keys: KeySpace, client: aioredis.Redis) -> object:
        issued = await codes.regenerate("alice")
        stored = {member.decode() for member in await client.smembers(keys.recovery_codes("alice"))}
        return issued, stored

    issued, stored = asyncio.run(_with_codes(redis_server, scenario))
    assert len(stored) == CODES_PER_SET
    assert all(len(value) == 64 for value in stored)
    assert not set(issued) & stored
    assert not any(code.replace("-", "") in value for code in issued for value in stored)
