"""TOTP codes against a real Redis: each time step works once per user, and the claim
outlives every moment the code could still be accepted."""

from __future__ import annotations

import asyncio
import secrets
from typing import TYPE_CHECKING

import pyotp
import redis.asyncio as aioredis

from verifier.factors import STEP_SECONDS, TotpCodes
from verifier.store.keyspace import KeySpace

if TYPE_CHECKING:
    from conftest import RedisServer

SECRET = pyotp.random_base32()
NOW = 1_796_000_015.0
CURRENT = int(NOW // STEP_SECONDS)


def _codes(redis_server: RedisServer) -> tuple[TotpCodes, KeySpace, aioredis.Redis]:
    keys = KeySpace(f"totp-{secrets.token_hex(4)}")
    client = aioredis.Redis.from_url(redis_server.url)
    return TotpCodes(client, keys), keys, client


def test_a_code_is_accepted_once_and_its_replay_refused(redis_server: RedisServer) -> None:
    async def scenario() -> list[bool]:
        codes, _, client = _codes(redis_server)
        code = pyotp.HOTP(SECRET).at(CURRENT)
        try:
            return [
                await codes.accept("alice", SECRET, code, NOW),
                await codes.accept("alice", SECRET, code, NOW),
                # Still within its window a step later: still a replay.
                await codes.accept("alice", SECRET, code, NOW + STEP_SECONDS),
            ]
        finally:
            await client.aclose()

    assert asyncio.run(scenario()) == [True, False, False]


def test_the_next_code_and_another_users_code_are_their_own(redis_server: RedisServer) -> None:
    async def scenario() -> list[bool]:
        codes, _, client = _codes(redis_server)
        hotp = pyotp.HOTP(SECRET)
        try:
            return [
                await codes.accept("alice", SECRET, hotp.at(CURRENT), NOW),
                await codes.accept("bob", SECRET, hotp.at(CURRENT), NOW),
                await codes.accept("alice", SECRET, hotp.at(CURRENT + 1), NOW + STEP_SECONDS),
            ]
        finally:
            await client.aclose()

    assert asyncio.run(scenario()) == [True, True, True]


def test_a_wrong_code_claims_nothing(redis_server: RedisServer) -> None:
    window = {pyotp.HOTP(SECRET).at(step) for step in range(CURRENT - 1, CURRENT + 2)}
    wrong_code = next(f"{n:06d}" for n in range(10) if f"{n:06d}" not in window)

    async def scenario() -> tuple[bool, list[bytes]]:
        codes, keys, client = _codes(redis_server)
        try:
            accepted = await codes.accept("alice", SECRET, wrong_code, NOW)
            claimed = await client.keys(keys.totp_step("alice", 0).rsplit(":", 1)[0] + ":*")
            return accepted, claimed
        finally:
            await client.aclose()

    accepted, claimed = asyncio.run(scenario())
    assert not accepted
    assert claimed == []


def test_a_claim_lives_past_the_last_moment_its_code_is_accepted(
    redis_server: RedisServer,
) -> None:
    async def scenario() -> int:
        codes, keys, client = _codes(redis_server)
        try:
            assert await codes.accept("alice", SECRET, pyotp.HOTP(SECRET).at(CURRENT), NOW)
            return int(await client.ttl(keys.totp_step("alice", CURRENT)))
        finally:
            await client.aclose()

    # Accepted until one step after its own: at most 2 steps from now.
    assert asyncio.run(scenario()) > 2 * STEP_SECONDS
