"""A user's factors against a real Redis: an enrolment that a reload shows again, activation
only of the secret still enrolled, current-factor checks used once, and removal."""

from __future__ import annotations

import asyncio
import secrets
from typing import TYPE_CHECKING, Any

import pyotp
import redis.asyncio as aioredis

from verifier.factors import STEP_SECONDS
from verifier.factors.methods import RECOVERY_CODE, TOTP
from verifier.factors.passkeys import NewCredential
from verifier.factors.user_factors import (
    ENROLMENT_SECONDS,
    TOTP_ISSUER,
    FactorStatus,
    UserFactors,
)
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


def test_the_status_counts_recovery_codes_and_passkeys(redis_server: RedisServer) -> None:
    async def scenario(factors: UserFactors, client: aioredis.Redis, keys: KeySpace) -> None:
        await factors.new_recovery_codes("erin")
        await factors.passkeys.add("erin", _credential(b"erin's key"), "Phone", NOW)

        assert await factors.status("erin") == FactorStatus(
            totp=False, recovery_codes_left=10, passkeys=1
        )
        assert await factors.status("frank") == FactorStatus(totp=False, recovery_codes_left=0)

    _run(redis_server, scenario)


def test_one_users_spent_step_leaves_another_users_code_good(redis_server: RedisServer) -> None:
    # Each step is spent per user: two users signing in within the same 30 s both get in.
    async def scenario(factors: UserFactors, client: aioredis.Redis, keys: KeySpace) -> None:
        alice, bob = pyotp.random_base32(), pyotp.random_base32()
        await factors.set_totp("alice", alice)
        await factors.set_totp("bob", bob)

        assert await factors.check("alice", _code(alice), "", NOW) == TOTP
        assert await factors.check("bob", _code(bob), "", NOW) == TOTP

    _run(redis_server, scenario)


def test_an_enrolment_code_is_accepted_once_for_its_secret_and_time(
    redis_server: RedisServer,
) -> None:
    async def scenario(factors: UserFactors, client: aioredis.Redis, keys: KeySpace) -> None:
        secret = await factors.begin_enrolment("gina")
        assert await factors.enrolment_secret("gina") == secret
        later = NOW + 10 * STEP_SECONDS

        assert not await factors.accept_code("gina", secret, _code(secret), later)  # too old
        assert not await factors.accept_code("gina", pyotp.random_base32(), _code(secret), later)
        assert await factors.accept_code("gina", secret, _code(secret, later), later)
        assert not await factors.accept_code("gina", secret, _code(secret, later), later)
        # The step is spent for gina alone.
        assert await factors.accept_code("hugo", secret, _code(secret, later), later)

    _run(redis_server, scenario)


def test_a_restarted_enrolment_expires_like_a_new_one(redis_server: RedisServer) -> None:
    async def scenario(factors: UserFactors, client: aioredis.Redis, keys: KeySpace) -> None:
        await factors.begin_enrolment("ivan")
        restarted = await factors.begin_enrolment("ivan", restart=True)

        assert await factors.enrolment_secret("ivan") == restarted
        assert 0 < await client.ttl(keys.totp_enrolment("ivan")) <= ENROLMENT_SECONDS

    _run(redis_server, scenario)


class _EnrolmentExpiresAfterItsCheck(aioredis.Redis):
    """A real client on which an enrolment runs out between SET NX and the GET that follows
    (the moment its TTL could end), so that path runs every time."""

    async def set(self, name: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        stored = await super().set(name, value, *args, **kwargs)
        if kwargs.get("nx") and not stored:
            await self.delete(name)
        return stored


def test_an_enrolment_that_expired_while_read_starts_over_with_a_fresh_secret(
    redis_server: RedisServer,
) -> None:
    async def main() -> None:
        keys = KeySpace(f"factors-{secrets.token_hex(4)}")
        client = _EnrolmentExpiresAfterItsCheck.from_url(redis_server.url)
        try:
            factors = UserFactors(client, keys)
            first = await factors.begin_enrolment("judy")
            fresh = await factors.begin_enrolment("judy")

            assert fresh != first
            assert await factors.enrolment_secret("judy") == fresh
            assert 0 < await client.ttl(keys.totp_enrolment("judy")) <= ENROLMENT_SECONDS
        finally:
            await client.aclose()

    asyncio.run(main())


def test_removing_a_single_passkey_counts_as_removing_a_factor(redis_server: RedisServer) -> None:
    async def scenario(factors: UserFactors, client: aioredis.Redis, keys: KeySpace) -> None:
        await factors.passkeys.add("kim", _credential(b"kim's key"), "Phone", NOW)

        assert await factors.remove_all("kim")

        assert await factors.status("kim") == FactorStatus(totp=False, recovery_codes_left=0)

    _run(redis_server, scenario)


def test_the_issuer_apps_list_the_user_under_is_the_one_configured(
    redis_server: RedisServer,
) -> None:
    async def scenario(factors: UserFactors, client: aioredis.Redis, keys: KeySpace) -> None:
        assert factors.totp_issuer == TOTP_ISSUER
        assert UserFactors(client, keys, "Example Corp").totp_issuer == "Example Corp"

    _run(redis_server, scenario)


def _credential(credential_id: bytes) -> NewCredential:
    return NewCredential(credential_id, b"public key", 0, ())
