"""verifier.apitokens.check against a real redis-server: the cache, the throttle, the work.

A valid token on repeat asks Redis nothing while the worker's liveness cache is trusted; a
revocation message (or the channel going quiet) sends the next check to Redis; every failure
is counted against the client's address, and the address at its limit is refused before
anything else is looked at; every failure costs the same Redis commands.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
import redis
import redis.asyncio as aioredis

from verifier.apitokens import ApiToken, BearerCheck, Scope, TokenStore, TokenUsage
from verifier.errors import BearerRefused, BearerThrottled
from verifier.sessions.liveness import LivenessCache
from verifier.sessions.store import SessionPolicy, SessionStore
from verifier.store.keyspace import KeySpace
from verifier.users.passwords import PasswordHasher
from verifier.users.store import UserStore
from verifier.users.throttle import AddressFailures

DAY = 86_400
LIMIT = 5
WINDOW = 60
ADDRESS = "192.0.2.7"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    """A worker's bearer check on real stores, with its liveness cache trusted."""

    redis: aioredis.Redis
    keys: KeySpace
    users: UserStore
    sessions: SessionStore
    tokens: TokenStore
    failures: AddressFailures
    usage: TokenUsage
    cache: LivenessCache
    check: BearerCheck
    clock: Clock

    async def token(self, *terms: str, groups: tuple[str, ...] = ("ops",)) -> tuple[str, str]:
        """A service account with `groups` and a token for it; (owner, the token)."""
        owner = f"bot-{secrets.token_hex(3)}"
        await self.users.add_service(owner, groups)
        made = await self.tokens.create(owner, "ci", Scope.parse(terms), DAY)
        return owner, str(made.token)

    async def admit(self, token: str, address: str = ADDRESS) -> tuple[str, ...]:
        grant = await self.check.check(f"Bearer {token}", address, self.clock())
        return grant.groups


def run(redis_url: str, scenario: Callable[[World], Awaitable[None]]) -> None:
    async def main() -> None:
        client = aioredis.Redis.from_url(redis_url)
        keys = KeySpace(f"check-{secrets.token_hex(4)}")
        clock = Clock()
        hasher = PasswordHasher()
        cache = LivenessCache(clock, 60)
        cache.trust()  # as the listener does once it hears its own heartbeat
        policy = SessionPolicy(
            idle_seconds=3600, absolute_seconds=DAY, grace_seconds=10, max_sessions_per_user=10
        )
        tokens = TokenStore(client, keys, clock, cache)
        failures = AddressFailures(client, keys, LIMIT, WINDOW)
        usage = TokenUsage(tokens)
        try:
            await scenario(
                World(
                    client,
                    keys,
                    UserStore(client, keys, hasher, cache),
                    SessionStore(client, keys, policy, clock, cache),
                    tokens,
                    failures,
                    usage,
                    cache,
                    BearerCheck(tokens, failures, usage, cache),
                    clock,
                )
            )
        finally:
            hasher.close()
            await client.aclose()

    asyncio.run(main())


# What the counting itself sends: its own connection's handshake, the reset and the read.
_COUNTING = {"cmdstat_info", "cmdstat_hello", "cmdstat_config|resetstat", "cmdstat_client|setinfo"}


def _calls(redis_url: str) -> dict[str, int]:
    with redis.Redis.from_url(redis_url) as client:
        stats = client.info("commandstats")
    return {name: int(entry["calls"]) for name, entry in stats.items() if name not in _COUNTING}


def _reset(redis_url: str) -> None:
    with redis.Redis.from_url(redis_url) as client:
        client.config_resetstat()


async def _refused(world: World, header: str, address: str = ADDRESS) -> BearerRefused:
    with pytest.raises(BearerRefused) as refused:
        await world.check.check(header, address, world.clock())
    return refused.value


def test_a_valid_token_on_repeat_asks_redis_nothing(redis_url: str) -> None:
    async def scenario(world: World) -> None:
        _, token = await world.token()
        assert await world.admit(token) == ("ops",)
        _reset(redis_url)
        for _ in range(5):
            assert await world.admit(token) == ("ops",)
        assert _calls(redis_url) == {}

    run(redis_url, scenario)


def test_the_groups_a_token_carries_are_its_owners_as_its_scope_narrows_them(
    redis_url: str,
) -> None:
    async def scenario(world: World) -> None:
        owner, token = await world.token("group:deployers", groups=("deployers", "ops"))
        assert await world.admit(token) == ("deployers",)
        await world.users.change_groups(owner, remove=["deployers"])
        # The change is announced: the next check reads the owner again.
        assert await world.admit(token) == ()

    run(redis_url, scenario)


def test_a_revocation_heard_sends_the_next_check_to_redis_which_refuses(
    redis_url: str,
) -> None:
    async def scenario(world: World) -> None:
        owner, token = await world.token()
        await world.admit(token)
        token_id = (await world.tokens.owned_by(owner))[0].token_id
        # What another worker's revocation reads like when it arrives on the channel.
        other_worker = TokenStore(world.redis, world.keys, world.clock)
        assert await other_worker.revoke(owner, token_id)
        world.cache.apply(f"k {owner} {token_id}")
        assert (await _refused(world, f"Bearer {token}")).reason == "unknown"

    run(redis_url, scenario)


@pytest.mark.parametrize("message", ["u {owner}", "g {owner}"])
def test_every_session_of_the_owner_ended_or_a_change_of_theirs_forgets_the_token(
    redis_url: str, message: str
) -> None:
    async def scenario(world: World) -> None:
        owner, token = await world.token()
        await world.admit(token)
        world.cache.apply(message.format(owner=owner))
        _reset(redis_url)
        await world.admit(token)
        assert _calls(redis_url).get("cmdstat_hmget") == 2

    run(redis_url, scenario)


def test_logout_everywhere_of_the_owner_stops_a_cached_token(redis_url: str) -> None:
    async def scenario(world: World) -> None:
        owner, token = await world.token()
        await world.admit(token)
        await world.sessions.revoke_all(owner)  # this worker forgets at once, others hear `u`
        refused = await _refused(world, f"Bearer {token}")
        assert (refused.reason, refused.user) == ("voided", owner)

    run(redis_url, scenario)


def test_while_the_channel_is_not_heard_every_check_asks_redis(redis_url: str) -> None:
    async def scenario(world: World) -> None:
        _, token = await world.token()
        await world.admit(token)
        world.cache.distrust()
        _reset(redis_url)
        await world.admit(token)
        await world.admit(token)
        assert _calls(redis_url).get("cmdstat_hmget") == 4

    run(redis_url, scenario)


def test_a_cached_token_stops_at_its_expiry(redis_url: str) -> None:
    async def scenario(world: World) -> None:
        _, token = await world.token()
        await world.admit(token)
        world.clock.now += DAY
        assert (await _refused(world, f"Bearer {token}")).reason == "expired"

    run(redis_url, scenario)


def test_every_use_is_noted_for_last_used_and_written_by_a_flush(redis_url: str) -> None:
    async def scenario(world: World) -> None:
        owner, token = await world.token()
        await world.admit(token)
        world.clock.now += 30
        await world.admit(token)  # from the cache: noted all the same
        assert (await world.tokens.owned_by(owner))[0].last_used is None
        await world.usage.flush()
        assert (await world.tokens.owned_by(owner))[0].last_used == int(world.clock())

    run(redis_url, scenario)


def test_a_malformed_header_is_refused_and_counted(redis_url: str) -> None:
    async def scenario(world: World) -> None:
        refused = await _refused(world, "Bearer vrf_not-a-token")
        assert refused.reason == "malformed"
        assert await world.redis.get(world.failures.key(ADDRESS)) == b"1"

    run(redis_url, scenario)


def test_an_address_at_its_limit_is_refused_unchecked_even_with_a_valid_token(
    redis_url: str,
) -> None:
    async def scenario(world: World) -> None:
        _, token = await world.token()
        for _ in range(LIMIT):
            assert (await _refused(world, f"Bearer {ApiToken.mint()}")).reason == "unknown"
        throttled = await _refused(world, f"Bearer {token}")
        assert isinstance(throttled, BearerThrottled)
        assert 1 <= throttled.retry_after_seconds <= WINDOW
        # Refused unchecked, and not counted: the window ends on time.
        assert await world.redis.get(world.failures.key(ADDRESS)) == str(LIMIT).encode()
        assert isinstance(await _refused(world, "Bearer vrf_x"), BearerThrottled)
        # Another address is not concerned.
        assert await world.admit(token, address="198.51.100.1") == ("ops",)

    run(redis_url, scenario)


def test_a_token_already_proven_valid_passes_a_throttled_address(redis_url: str) -> None:
    async def scenario(world: World) -> None:
        _, token = await world.token()
        await world.admit(token)
        for _ in range(LIMIT):
            await _refused(world, f"Bearer {ApiToken.mint()}")
        # Cached as valid: letting it through tells a guesser nothing it could use.
        assert await world.admit(token) == ("ops",)

    run(redis_url, scenario)


def test_every_failure_takes_the_same_redis_commands(redis_url: str) -> None:
    costs: dict[str, dict[str, int]] = {}

    async def scenario(world: World) -> None:
        revoked_owner, revoked = await world.token()
        token_id = (await world.tokens.owned_by(revoked_owner))[0].token_id
        await world.tokens.revoke(revoked_owner, token_id)
        voided_owner, voided = await world.token()
        await world.sessions.revoke_all(voided_owner)
        gone_owner, gone = await world.token()
        await world.users.remove(gone_owner)
        off_owner, off = await world.token()
        await world.users.set_disabled(off_owner, True)
        cases = {
            "never issued": str(ApiToken.mint()),
            "revoked": revoked,
            "voided": voided,
            "owner removed": gone,
            "owner disabled": off,
        }
        for label, token in cases.items():
            # The address's window open (its counter exists, below the limit): no case pays
            # the window's EXPIRE alone, and none is throttled.
            await world.redis.set(world.failures.key(ADDRESS), 1, ex=WINDOW)
            _reset(redis_url)
            await _refused(world, f"Bearer {token}")
            costs[label] = _calls(redis_url)

    run(redis_url, scenario)
    baseline = costs["never issued"]
    # The address's count read, the token, its owner and epoch, the failure counted.
    assert baseline["cmdstat_evalsha"] == 2
    assert baseline["cmdstat_hmget"] == 2
    assert baseline["cmdstat_incr"] == 1
    for label, cost in costs.items():
        assert cost == baseline, label
