"""verifier.apitokens.store against a real redis-server: make, find, list, revoke, void.

Every refusal of `find` is checked for its reason, and for the Redis work it took: a token
never issued, one revoked, one voided, one expired and one whose owner is gone must all cost
the same commands, or the time a refusal takes would tell them apart.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
import redis
import redis.asyncio as aioredis

from verifier.apitokens import ApiToken, BadTokenInput, Scope, TokenStore
from verifier.apitokens.store import (
    EXPIRED,
    MAX_TOKENS_PER_USER,
    OWNER_DISABLED,
    OWNER_REMOVED,
    UNKNOWN,
    VOIDED,
    OwnerDisabled,
    TooManyTokens,
)
from verifier.errors import BearerRefused
from verifier.sessions.store import SessionPolicy, SessionStore
from verifier.store.keyspace import KeySpace
from verifier.users.passwords import PasswordHasher
from verifier.users.store import UnknownUser, UserStore

DAY = 86_400


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    """Real stores on the test's own key prefix."""

    redis: aioredis.Redis
    keys: KeySpace
    users: UserStore
    sessions: SessionStore
    tokens: TokenStore
    clock: Clock

    async def owner(self, *groups: str) -> str:
        name = f"bot-{secrets.token_hex(3)}"
        await self.users.add_service(name, groups)
        return name


def run(redis_url: str, scenario: Callable[[World], Awaitable[None]]) -> None:
    async def main() -> None:
        client = aioredis.Redis.from_url(redis_url)
        keys = KeySpace(f"tokens-{secrets.token_hex(4)}")
        clock = Clock()
        hasher = PasswordHasher()
        policy = SessionPolicy(
            idle_seconds=3600, absolute_seconds=DAY, grace_seconds=10, max_sessions_per_user=10
        )
        try:
            await scenario(
                World(
                    client,
                    keys,
                    UserStore(client, keys, hasher),
                    SessionStore(client, keys, policy, clock),
                    TokenStore(client, keys, clock),
                    clock,
                )
            )
        finally:
            hasher.close()
            await client.aclose()

    asyncio.run(main())


async def _refusal(world: World, token: ApiToken) -> BearerRefused:
    with pytest.raises(BearerRefused) as refused:
        await world.tokens.find(token.digest, world.clock())
    return refused.value


def test_a_made_token_is_found_with_its_owners_groups_and_listed_without_its_secret(
    redis_url: str,
) -> None:
    async def scenario(world: World) -> None:
        owner = await world.owner("deployers", "ops")
        made = await world.tokens.create(owner, "ci deploy", Scope.parse(["path:/api/"]), 90 * DAY)

        live = await world.tokens.find(made.token.digest, world.clock())
        assert (live.user, live.token_id) == (owner, made.info.token_id)
        assert live.owner_groups == ("deployers", "ops")
        assert str(live.scope) == "path:/api/"
        assert live.expires == int(world.clock()) + 90 * DAY
        (listed,) = await world.tokens.owned_by(owner)
        assert listed == made.info
        assert listed.last_used is None

    run(redis_url, scenario)


def test_redis_holds_the_tokens_digest_never_the_token(redis_url: str) -> None:
    async def scenario(world: World) -> None:
        owner = await world.owner()
        made = await world.tokens.create(owner, "probe", Scope(), DAY)
        secret = str(made.token).encode()
        found_digest = False
        async for key in world.redis.scan_iter(match=f"{world.keys.prefix}:*"):
            kind = await world.redis.type(key)
            if kind == b"hash":
                values = list((await world.redis.hgetall(key)).values())
            elif kind == b"string":
                values = [await world.redis.get(key)]
            else:
                values = []
            assert all(secret not in (value or b"") for value in [key, *values])
            found_digest |= (
                made.token.digest.encode() in key or made.token.digest.encode() in values
            )
        assert found_digest

    run(redis_url, scenario)


def test_redis_deletes_a_token_at_its_expiry_by_itself(redis_url: str) -> None:
    async def scenario(world: World) -> None:
        owner = await world.owner()
        world.clock.now = time.time()  # PEXPIREAT is Redis's clock: the real one
        made = await world.tokens.create(owner, "short", Scope(), 3600)
        left_ms = await world.redis.pttl(world.keys.api_token(made.token.digest))
        assert 3_590_000 < left_ms <= 3_600_000

    run(redis_url, scenario)


def test_a_token_past_its_expiry_is_refused_before_redis_deleted_it(redis_url: str) -> None:
    async def scenario(world: World) -> None:
        owner = await world.owner()
        made = await world.tokens.create(owner, "short", Scope(), 3600)
        world.clock.now += 3600
        refused = await _refusal(world, made.token)
        assert (refused.reason, refused.user, refused.token_id) == (
            EXPIRED,
            owner,
            made.info.token_id,
        )
        assert await world.tokens.owned_by(owner) == []

    run(redis_url, scenario)


def test_a_token_never_issued_is_unknown(redis_url: str) -> None:
    async def scenario(world: World) -> None:
        refused = await _refusal(world, ApiToken.mint())
        assert (refused.reason, refused.user, refused.token_id) == (UNKNOWN, None, None)

    run(redis_url, scenario)


def test_a_revoked_token_is_gone_announced_and_unknown(redis_url: str) -> None:
    async def scenario(world: World) -> None:
        owner = await world.owner()
        made = await world.tokens.create(owner, "ci", Scope(), DAY)
        channel = world.redis.pubsub()
        await channel.subscribe(world.keys.revocations())
        await channel.get_message(timeout=1)  # the subscription's confirmation

        assert await world.tokens.revoke(owner, made.info.token_id)

        message = await channel.get_message(timeout=2)
        assert message is not None
        assert message["data"] == f"k {owner} {made.info.token_id}".encode()
        await channel.aclose()
        assert (await _refusal(world, made.token)).reason == UNKNOWN
        assert await world.tokens.owned_by(owner) == []
        assert not await world.tokens.revoke(owner, made.info.token_id)

    run(redis_url, scenario)


def test_nobody_revokes_another_users_token_by_its_id(redis_url: str) -> None:
    async def scenario(world: World) -> None:
        victim, attacker = await world.owner(), await world.owner()
        made = await world.tokens.create(victim, "ci", Scope(), DAY)
        assert not await world.tokens.revoke(attacker, made.info.token_id)
        assert (await world.tokens.find(made.token.digest, world.clock())).user == victim

    run(redis_url, scenario)


def test_ending_every_session_of_the_owner_voids_every_token_in_the_same_script(
    redis_url: str,
) -> None:
    async def scenario(world: World) -> None:
        owner = await world.owner()
        first = await world.tokens.create(owner, "one", Scope(), DAY)
        second = await world.tokens.create(owner, "two", Scope(), DAY)

        await world.sessions.revoke_all(owner)  # logout everywhere, sessions end-all, removal

        for made in (first, second):
            refused = await _refusal(world, made.token)
            assert (refused.reason, refused.token_id) == (VOIDED, made.info.token_id)
        assert await world.tokens.owned_by(owner) == []
        # The list dropped the voided records too.
        assert not await world.redis.exists(world.keys.api_token(first.token.digest))
        # A token made afterwards is valid: a new epoch, not the old one.
        third = await world.tokens.create(owner, "three", Scope(), DAY)
        assert (await world.tokens.find(third.token.digest, world.clock())).user == owner

    run(redis_url, scenario)


def test_revoke_all_voids_then_deletes_every_token_and_names_them(redis_url: str) -> None:
    async def scenario(world: World) -> None:
        owner = await world.owner()
        made = [await world.tokens.create(owner, f"t{n}", Scope(), DAY) for n in range(3)]
        revoked = await world.tokens.revoke_all(owner)
        assert sorted(revoked) == sorted(m.info.token_id for m in made)
        for one in made:
            assert (await _refusal(world, one.token)).reason == UNKNOWN
        assert await world.tokens.revoke_all(owner) == []

    run(redis_url, scenario)


def test_a_removed_owners_tokens_are_refused_even_if_their_records_remain(
    redis_url: str,
) -> None:
    async def scenario(world: World) -> None:
        owner = await world.owner()
        made = await world.tokens.create(owner, "ci", Scope(), DAY)
        await world.users.remove(owner)  # the record alone: as a removal half done
        refused = await _refusal(world, made.token)
        assert (refused.reason, refused.user) == (OWNER_REMOVED, owner)
        # A new account of the same name does not inherit the token: no epoch of its own yet.
        await world.users.add_service(owner)
        assert (await _refusal(world, made.token)).reason == VOIDED

    run(redis_url, scenario)


def test_a_disabled_owners_tokens_are_refused_and_none_are_made(redis_url: str) -> None:
    async def scenario(world: World) -> None:
        owner = await world.owner()
        made = await world.tokens.create(owner, "ci", Scope(), DAY)
        assert await world.users.set_disabled(owner, True)
        assert (await _refusal(world, made.token)).reason == OWNER_DISABLED
        with pytest.raises(OwnerDisabled):
            await world.tokens.create(owner, "another", Scope(), DAY)
        assert await world.users.set_disabled(owner, False)
        assert (await world.tokens.find(made.token.digest, world.clock())).user == owner

    run(redis_url, scenario)


def test_a_scope_may_name_only_groups_the_owner_is_in(redis_url: str) -> None:
    async def scenario(world: World) -> None:
        owner = await world.owner("ops")
        with pytest.raises(BadTokenInput) as refused:
            await world.tokens.create(owner, "ci", Scope.parse(["group:admins"]), DAY)
        assert "admins" in str(refused.value)
        assert await world.tokens.owned_by(owner) == []

    run(redis_url, scenario)


def test_no_token_is_made_for_an_unknown_user(redis_url: str) -> None:
    async def scenario(world: World) -> None:
        with pytest.raises(UnknownUser):
            await world.tokens.create("nobody", "ci", Scope(), DAY)
        assert not await world.redis.exists(world.keys.api_tokens("nobody"))
        assert not await world.redis.exists(world.keys.api_token_epoch("nobody"))

    run(redis_url, scenario)


def test_an_owner_has_at_most_the_limit_of_live_tokens(redis_url: str) -> None:
    async def scenario(world: World) -> None:
        owner = await world.owner()
        made = [
            await world.tokens.create(owner, f"t{n}", Scope(), DAY)
            for n in range(MAX_TOKENS_PER_USER)
        ]
        with pytest.raises(TooManyTokens):
            await world.tokens.create(owner, "one too many", Scope(), DAY)
        await world.tokens.revoke(owner, made[0].info.token_id)
        await world.tokens.create(owner, "in its place", Scope(), DAY)

    run(redis_url, scenario)


def test_last_used_keeps_the_later_time_and_never_brings_a_token_back(redis_url: str) -> None:
    async def scenario(world: World) -> None:
        owner = await world.owner()
        made = await world.tokens.create(owner, "ci", Scope(), DAY)
        now = int(world.clock())
        await world.tokens.touch(made.token.digest, now + 20)
        await world.tokens.touch(made.token.digest, now + 10)  # an older note, from a worker
        (listed,) = await world.tokens.owned_by(owner)
        assert listed.last_used == now + 20
        await world.tokens.revoke(owner, made.info.token_id)
        await world.tokens.touch(made.token.digest, now + 30)
        assert not await world.redis.exists(world.keys.api_token(made.token.digest))

    run(redis_url, scenario)


def _command_counts(redis_url: str) -> dict[str, int]:
    with redis.Redis.from_url(redis_url) as client:
        stats = client.info("commandstats")
    return {name: int(entry["calls"]) for name, entry in stats.items()}


def test_every_refusal_costs_the_same_redis_commands(redis_url: str) -> None:
    costs: dict[str, dict[str, int]] = {}

    async def scenario(world: World) -> None:
        owner = await world.owner("ops")
        revoked = await world.tokens.create(owner, "revoked", Scope(), DAY)
        await world.tokens.revoke(owner, revoked.info.token_id)
        voided_owner = await world.owner()
        voided = await world.tokens.create(voided_owner, "voided", Scope(), DAY)
        await world.sessions.revoke_all(voided_owner)
        expired = await world.tokens.create(owner, "expired", Scope(), 3600)
        gone_owner = await world.owner()
        gone = await world.tokens.create(gone_owner, "gone", Scope(), DAY)
        await world.users.remove(gone_owner)
        off_owner = await world.owner()
        off = await world.tokens.create(off_owner, "off", Scope(), DAY)
        await world.users.set_disabled(off_owner, True)
        world.clock.now += 3600  # `expired` is past its expiry, the others are not
        cases = {
            "never issued": ApiToken.mint(),
            "revoked": revoked.token,
            "voided": voided.token,
            "expired": expired.token,
            "owner removed": gone.token,
            "owner disabled": off.token,
        }
        with redis.Redis.from_url(redis_url) as sync:
            for label, token in cases.items():
                sync.config_resetstat()
                await _refusal(world, token)
                costs[label] = _command_counts(redis_url)
        # The INFO that read the counts is itself counted: the same in every case.

    run(redis_url, scenario)
    baseline = costs["never issued"]
    assert baseline.get("cmdstat_hmget") == 2
    assert baseline.get("cmdstat_get") == 1
    for label, cost in costs.items():
        assert cost == baseline, label
