"""The revocation listener against a real redis-server: when it trusts the cache, how it stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest
import redis.asyncio as aioredis
from e2e_helpers import SETTLE_SECONDS, wait_until_async

from verifier.sessions.liveness import LivenessCache, RevocationListener

if TYPE_CHECKING:
    from conftest import RedisServer

CHANNEL = "listener-test:revocations"


@contextlib.asynccontextmanager
async def _listening(
    redis_server: RedisServer,
) -> AsyncIterator[tuple[aioredis.Redis, LivenessCache, RevocationListener, asyncio.Task[None]]]:
    """A listener running on its own client until the block ends (then stopped, by flag)."""
    client = aioredis.Redis.from_url(redis_server.url)
    cache = LivenessCache(time.monotonic, max_age_seconds=30)
    listener = RevocationListener(client, CHANNEL, cache, time.monotonic)
    task = asyncio.create_task(listener.run())
    try:
        await wait_until_async(lambda: cache.trusted, "the cache trusted")
        yield client, cache, listener, task
    finally:
        listener.stop()
        await asyncio.wait_for(task, SETTLE_SECONDS)
        await client.aclose()


def test_cache_is_trusted_once_subscribed_and_hears_revocations(
    redis_server: RedisServer,
) -> None:
    async def scenario() -> LivenessCache:
        async with _listening(redis_server) as (client, cache, _, _):
            cache.remember("alice", "s1", cache.epoch)
            assert cache.is_known_live("alice", "s1")

            await client.publish(CHANNEL, "s alice s1")

            await wait_until_async(
                lambda: not cache.is_known_live("alice", "s1"), "the revocation heard"
            )
        return cache

    assert not asyncio.run(scenario()).trusted


def test_stop_ends_the_listener_without_a_cancellation(redis_server: RedisServer) -> None:
    # A cancellation can be lost inside redis-py while the subscription is set up; stop()
    # alone must end the listener, or a worker's shutdown would hang. (It checks the flag
    # once a poll, about a second; the deadline is only there so a hang fails the test.)
    async def scenario() -> asyncio.Task[None]:
        async with _listening(redis_server) as (_, _, listener, task):
            listener.stop()
            await asyncio.wait({task}, timeout=SETTLE_SECONDS)  # waits; never cancels it
            return task

    ended = asyncio.run(scenario())
    assert ended.done() and not ended.cancelled()
    assert ended.exception() is None


def test_a_lost_channel_is_logged_and_the_cache_distrusted_until_resubscribed(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with _listening(redis_server) as (client, cache, _, _):
            with caplog.at_level(logging.WARNING, logger="verifier.sessions.liveness"):
                # Redis drops the subscriber's connection, as on a restart or failover.
                assert await client.client_kill_filter(_type="pubsub") >= 1
                await wait_until_async(lambda: not cache.trusted, "the cache distrusted")
            await wait_until_async(lambda: cache.trusted, "the cache trusted again")

    asyncio.run(scenario())
    lost = [record for record in caplog.records if "revocation channel lost" in record.message]
    assert len(lost) == 1, [record.message for record in caplog.records]
