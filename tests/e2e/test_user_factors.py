"""A user's factors against a real Redis: an enrolment that a reload shows again, activation
only of the secret still enrolled, current-factor checks used once, and removal."""

from __future__ import annotations

import asyncio
import secrets
from typing import TYPE_CHECKING

import pyotp
import redis.asyncio as aioredis

from verifier.factors import STEP_SECONDS
from verifier.factors.methods import RECOVERY_CODE, TOTP
from verifier.factors.user_factors import ENROLMENT_SECONDS, FactorStatus, UserFactors
from verifier.store.keyspace import KeySpace

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from conftest import RedisServer

NOW = 1_796_000_015.0


def _run(
    redis_server: RedisServer,
    scenario: Callable[[UserFactors, aioredis.Redis, KeySpace], Awaitable[None]],
) -> None:
    async def main() -> None:
        keys = KeySpace(f"factors-{secrets.token_hex(4)}")
        client = aioredis.Redis.from_url(redis_server.url)
        try:
            await scenario(UserFactors(client, keys), client, keys)
        finally:
            await client.aclose()

    asyncio.run(main())


def _code(secret: str, now: float = NOW) -> str:
    return pyotp.HOTP(secret).at(int(now // STEP_SECONDS))


def test_an_enrolment_is_shown_again_until_it_is_activated(redis_server: RedisServer) -> None:
    async def scenario(factors: UserFactors, client: aioredis.Redis, keys: KeySpace) -> None:
        first = await factors.begin_enrolment("alice")
        assert await factors.begin_enrolment("alice") == first
        assert 0 < await client.ttl(keys.totp_enrolment("alice")) <= ENROLMENT_SECONDS
        assert await factors.status("alice") == FactorStatus(totp=False, recovery_codes_left=0)

        assert await factors.activate_totp("alice", first)

        assert await factors.status("alice") == FactorStatus(totp=True, recovery_codes_left=0)
        assert await factors.enrolment_secret("alice") is None

    _run(redis_server, scenario)


def test_only_the_secret_still_enrolled_is_activated(redis_server: RedisServer) -> None:
    async def scenario(factors: UserFactors, client: aioredis.Redis, keys: KeySpace) -> None:
        old = await factors.begin_enrolment("bob")
        new = await factors.begin_enrolment("bob", restart=True)
        assert new != old
        assert not await factors.activate_totp("bob", old)
        assert not (await factors.status("bob")).totp
        assert await factors.activate_totp("bob", new)
        assert not await factors.activate_totp("bob", new)  # once

    _run(redis_server, scenario)


def test_a_current_factor_is_a_totp_code_or_a_recovery_code_each_once(
    redis_server: RedisServer,
) -> None:
    async def scenario(factors: UserFactors, client: aioredis.Redis, keys: KeySpace) -> None:
        secret = pyotp.random_base32()
        await factors.set_totp("carol", secret)
        codes = await factors.new_recovery_codes("carol")

        assert await factors.check("carol", _code(secret), "", NOW) == TOTP
        assert await factors.check("carol", _code(secret), "", NOW) is None
        assert await factors.check("carol", "", codes[0], NOW) == RECOVERY_CODE
        assert await factors.check("carol", "", codes[0], NOW) is None
        assert await factors.check("carol", "000000", codes[1], NOW) is None  # TOTP tried alone
        assert await factors.recovery_codes_left("carol") == 9
        assert await factors.check("nobody", _code(secret, NOW + 30), "", NOW + 30) is None

    _run(redis_server, scenario)


def test_removing_the_factors_removes_every_key_of_them(redis_server: RedisServer) -> None:
    async def scenario(factors: UserFactors, client: aioredis.Redis, keys: KeySpace) -> None:
        await factors.set_totp("dave", pyotp.random_base32())
        await factors.new_recovery_codes("dave")
        await factors.begin_enrolment("dave")

        assert await factors.remove_all("dave")

        assert await factors.status("dave") == FactorStatus(totp=False, recovery_codes_left=0)
        assert await factors.enrolment_secret("dave") is None
        assert not await factors.remove_all("dave")

    _run(redis_server, scenario)
