"""The listener trusts its cache only while its own heartbeat comes back on the channel.

A subscription that is connected (and answers PING) but does not receive what is published
must never be trusted: here the listener subscribes on one redis-server and publishes on
another, as a node cut off from the writers would behave.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis.asyncio as aioredis
from e2e_helpers import SETTLE_SECONDS
from redis.asyncio.client import PubSub

from verifier.demo import processes
from verifier.sessions.liveness import LivenessCache, RevocationListener
from verifier.store import RedisTarget, connect, subscriptions
from verifier.store.heartbeat import HEARTBEAT_DEADLINE_SECONDS

if TYPE_CHECKING:
    from conftest import RedisServer

CHANNEL = "heartbeat-test:revocations"


class MisWired:
    """Subscribes on one server and publishes on another."""

    def __init__(self, listen_on: aioredis.Redis, publish_on: aioredis.Redis) -> None:
        self._listen_on = listen_on
        self._publish_on = publish_on

    def pubsub(self) -> PubSub:
        """A pub/sub on the listening server."""
        return self._listen_on.pubsub()

    async def publish(self, channel: str, message: str) -> None:
        """PUBLISH on the other server: the subscription never hears it."""
        await self._publish_on.publish(channel, message)


@pytest.fixture
def other_redis_url() -> Iterator[str]:
    """A second redis-server of this test's own."""
    workdir = Path(tempfile.mkdtemp(prefix="verifier-e2e-other-redis-"))
    port = processes.free_port()
    server = processes.start_redis(workdir, port)
    try:
        yield f"redis://{processes.LOOPBACK}:{port}/0"
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


async def _trusted_at_some_point(
    listener: RevocationListener, cache: LivenessCache, seconds: float
) -> bool:
    task = asyncio.create_task(listener.run())
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if cache.trusted:
                return True
            await asyncio.sleep(0.01)
        return False
    finally:
        listener.stop()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(task, SETTLE_SECONDS)


def test_a_subscription_that_hears_its_own_heartbeat_is_trusted(
    redis_server: RedisServer,
) -> None:
    async def scenario() -> bool:
        target = RedisTarget(url=redis_server.url)
        client = connect(target)
        cache = LivenessCache(time.monotonic, max_age_seconds=30)
        listener = RevocationListener(subscriptions(target, client), CHANNEL, cache, time.monotonic)
        try:
            return await _trusted_at_some_point(listener, cache, SETTLE_SECONDS)
        finally:
            await client.aclose()

    assert asyncio.run(scenario())


def test_a_subscription_that_does_not_hear_what_is_published_is_never_trusted(
    redis_server: RedisServer, other_redis_url: str
) -> None:
    async def scenario() -> bool:
        listen_on = aioredis.Redis.from_url(redis_server.url)
        publish_on = aioredis.Redis.from_url(other_redis_url)
        cache = LivenessCache(time.monotonic, max_age_seconds=30)
        listener = RevocationListener(
            MisWired(listen_on, publish_on), CHANNEL, cache, time.monotonic
        )
        try:
            # Long enough for several heartbeats and one missed deadline: it subscribes,
            # gets PONGs, never hears its beats, gives up and subscribes again.
            return await _trusted_at_some_point(listener, cache, HEARTBEAT_DEADLINE_SECONDS * 2)
        finally:
            await listen_on.aclose()
            await publish_on.aclose()

    assert not asyncio.run(scenario())
