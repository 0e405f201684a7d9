"""verifier.service.readiness: every reason a worker cannot serve is listed, and only real ones."""

from __future__ import annotations

import asyncio

from verifier.keyring.loader import STATIC_POLICY, static_ring
from verifier.keyring.ring import CurrentRing, KeyRing
from verifier.service.readiness import NO_ACCESS_KEY, NOT_SUBSCRIBED, ReadinessCheck
from verifier.sessions.liveness import LivenessCache
from verifier.settings import SigningKey
from verifier.store.outages import connect

NOW = 1_700_000_000.0
# Nothing listens on port 1 of the loopback: connecting is refused at once.
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def clock() -> float:
    return NOW


def signing_ring() -> CurrentRing:
    return CurrentRing(static_ring([SigningKey("k1", b"k" * 40)]))


def problems(keyring: CurrentRing, liveness: LivenessCache | None) -> list[str]:
    async def check() -> list[str]:
        client = connect(UNREACHABLE_REDIS)
        try:
            return await ReadinessCheck(client, keyring, clock, liveness).problems()
        finally:
            await client.aclose()

    return asyncio.run(check())


def test_every_problem_is_listed_in_order() -> None:
    found = problems(CurrentRing(KeyRing([], STATIC_POLICY)), LivenessCache(clock, 5))
    assert found == ["redis: ConnectionError", NO_ACCESS_KEY, NOT_SUBSCRIBED]


def test_without_the_liveness_cache_no_channel_is_required() -> None:
    assert problems(signing_ring(), None) == ["redis: ConnectionError"]


def test_a_subscribed_channel_and_a_signing_key_are_not_problems() -> None:
    liveness = LivenessCache(clock, 5)
    liveness.trust()
    assert problems(signing_ring(), liveness) == ["redis: ConnectionError"]


def test_a_lost_channel_is_a_problem_again() -> None:
    liveness = LivenessCache(clock, 5)
    liveness.trust()
    liveness.distrust()
    assert NOT_SUBSCRIBED in problems(signing_ring(), liveness)


def test_no_problem_names_the_redis_url() -> None:
    assert all("127.0.0.1" not in problem for problem in problems(signing_ring(), None))
