"""The revocation listener on a real Sentinel and a real Cluster, through verifier.store.

The listener is given what `create_app` gives it (`subscriptions(target, client)`) and hears
the revocations the store's Lua scripts publish on the master of the user's slot. On a
Cluster, when the node it listens on goes away, it subscribes on another and hears the next
revocation there.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator

import pytest
import redis
from e2e_helpers import SETTLE_SECONDS, wait_until_async
from redis_topologies import SENTINEL_MASTER, RedisClusterDeployment, SentinelDeployment

from verifier.demo.processes import LOOPBACK
from verifier.errors import StoreUnavailable
from verifier.sessions.liveness import LivenessCache, RevocationListener
from verifier.sessions.store import SessionPolicy, SessionStore
from verifier.store import RedisClient, RedisMode, RedisTarget, connect, parse_nodes, subscriptions
from verifier.store.keyspace import KeySpace

pytestmark = pytest.mark.ha

POLICY = SessionPolicy(
    idle_seconds=600, absolute_seconds=3600, grace_seconds=30, max_sessions_per_user=5
)


@contextlib.asynccontextmanager
async def _listening(
    target: RedisTarget,
) -> AsyncIterator[tuple[RedisClient, KeySpace, LivenessCache]]:
    """A listener (as create_app wires it) running until the block ends."""
    client = connect(target)
    keys = KeySpace(f"listen-{secrets.token_hex(4)}")
    cache = LivenessCache(time.monotonic, max_age_seconds=30)
    listener = RevocationListener(
        subscriptions(target, client), keys.revocations(), cache, time.monotonic
    )
    task = asyncio.create_task(listener.run())
    try:
        await wait_until_async(lambda: cache.trusted, "the cache trusted")
        yield client, keys, cache
    finally:
        listener.stop()
        await asyncio.wait_for(task, SETTLE_SECONDS)
        await client.aclose()


async def _revocation_is_heard(client: RedisClient, keys: KeySpace, cache: LivenessCache) -> None:
    """Create a session, cache it as live, end it through the store: does the cache forget?"""
    store = SessionStore(client, keys, POLICY, time.time)  # no cache: only the message can reach
    user = f"u{secrets.token_hex(3)}"
    session = await store.create(user)
    cache.remember(user, session.session_id, cache.epoch)
    assert cache.is_known_live(user, session.session_id)
    assert await store.revoke(user, session.session_id)
    await wait_until_async(
        lambda: not cache.is_known_live(user, session.session_id),
        "the cache to forget the revoked session",
    )


def _sentinel_target(deployment: SentinelDeployment) -> RedisTarget:
    return RedisTarget(
        mode=RedisMode.SENTINEL,
        nodes=parse_nodes(deployment.sentinels),
        sentinel_master=SENTINEL_MASTER,
    )


def _cluster_target(deployment: RedisClusterDeployment) -> RedisTarget:
    return RedisTarget(mode=RedisMode.CLUSTER, nodes=parse_nodes(deployment.seeds))


def _subscribed_ports(deployment: RedisClusterDeployment, channel: str) -> list[int]:
    # Classic pub/sub is node-local on a Cluster: each node counts its own subscribers.
    # Only running nodes are asked: this blocks the event loop the listener runs on, and
    # dialling a stopped node (with redis-py's retries) would stall the listener for seconds.
    found = []
    for port in deployment.running_ports():
        with redis.Redis(host=LOOPBACK, port=port, decode_responses=True) as node:
            if dict(node.pubsub_numsub(channel)).get(channel, 0):
                found.append(port)
    return found


def test_the_listener_hears_revocations_through_sentinel(
    redis_sentinel: SentinelDeployment,
) -> None:
    async def scenario() -> None:
        async with _listening(_sentinel_target(redis_sentinel)) as (client, keys, cache):
            for _ in range(3):
                await _revocation_is_heard(client, keys, cache)

    asyncio.run(scenario())


def test_the_listener_hears_revocations_of_every_slot_on_a_cluster(
    redis_cluster: RedisClusterDeployment,
) -> None:
    async def scenario() -> None:
        async with _listening(_cluster_target(redis_cluster)) as (client, keys, cache):
            # Users of many slots: their scripts run on all three masters, one node listens.
            for _ in range(12):
                await _revocation_is_heard(client, keys, cache)
            listening = _subscribed_ports(redis_cluster, keys.revocations())
            assert len(listening) == 1

    asyncio.run(scenario())


def test_the_listener_moves_to_another_node_when_its_node_goes_away(
    redis_cluster: RedisClusterDeployment,
) -> None:
    async def scenario() -> None:
        async with _listening(_cluster_target(redis_cluster)) as (client, keys, cache):
            channel = keys.revocations()
            (first,) = _subscribed_ports(redis_cluster, channel)
            redis_cluster.stop_node(first)
            try:
                # It notices, distrusts the cache, and subscribes on another node.
                await wait_until_async(
                    lambda: _subscribed_ports(redis_cluster, channel) not in ([], [first]),
                    "the listener subscribed on another node",
                )
                await wait_until_async(lambda: cache.trusted, "the cache trusted again")
                (second,) = _subscribed_ports(redis_cluster, channel)
                assert second != first
                # Commands may wait for a failover if the stopped node was a master.
                await _eventually_heard(client, keys, cache)
            finally:
                redis_cluster.start_node(first)
            redis_cluster.wait_until_whole()

    asyncio.run(scenario())


async def _eventually_heard(client: RedisClient, keys: KeySpace, cache: LivenessCache) -> None:
    """As _revocation_is_heard, retried while the cluster is failing over (an outage)."""
    deadline = time.monotonic() + SETTLE_SECONDS * 3
    while True:
        try:
            await _revocation_is_heard(client, keys, cache)
            return
        except StoreUnavailable as error:
            if time.monotonic() > deadline:
                raise AssertionError(f"no revocation heard: {error!r}") from error
            await asyncio.sleep(0.1)
