"""verifier.store.subscriptions: where the revocation listener subscribes, per mode."""

from __future__ import annotations

import asyncio

import pytest

from verifier.store import (
    ClientSubscriptions,
    ClusterSubscriptions,
    RedisMode,
    RedisTarget,
    connect,
    parse_nodes,
    subscriptions,
)

CLUSTER = RedisTarget(mode=RedisMode.CLUSTER, nodes=parse_nodes("10.0.0.1:7000,10.0.0.2:7001"))


def test_each_cluster_subscription_goes_to_the_next_node_in_turn() -> None:
    async def addresses() -> list[tuple[str, int]]:
        client = connect(CLUSTER)
        try:
            # Not connected yet: the client knows no nodes, so the seeds take turns.
            feed = subscriptions(CLUSTER, client)
            assert isinstance(feed, ClusterSubscriptions)
            found = []
            for _ in range(3):
                kwargs = feed.pubsub().connection_pool.connection_kwargs
                found.append((kwargs["host"], kwargs["port"]))
            return found
        finally:
            await client.aclose()

    assert asyncio.run(addresses()) == [("10.0.0.1", 7000), ("10.0.0.2", 7001), ("10.0.0.1", 7000)]


def test_standalone_and_sentinel_subscribe_through_the_client_itself() -> None:
    async def check() -> None:
        for target in (
            RedisTarget(url="redis://127.0.0.1:6379/0"),
            RedisTarget(
                mode=RedisMode.SENTINEL, nodes=parse_nodes("127.0.0.1:1"), sentinel_master="m"
            ),
        ):
            client = connect(target)
            assert isinstance(subscriptions(target, client), ClientSubscriptions)
            await client.aclose()

    asyncio.run(check())


def test_a_target_and_a_client_of_different_kinds_are_refused() -> None:
    async def check() -> None:
        cluster = connect(CLUSTER)
        standalone = connect(RedisTarget(url="redis://127.0.0.1:6379/0"))
        with pytest.raises(TypeError):
            subscriptions(CLUSTER, standalone)
        with pytest.raises(TypeError):
            subscriptions(RedisTarget(url="redis://127.0.0.1:6379/0"), cluster)
        await cluster.aclose()
        await standalone.aclose()

    asyncio.run(check())
