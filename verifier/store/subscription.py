"""Where the revocation listener subscribes, whichever kind of deployment it is.

A standalone server, or Sentinel's master (the client asks the sentinels for it on every
new connection), is one place to listen. On a Cluster, a message PUBLISHed on any node
(the scripts publish from Lua on the master of the user's slot) is broadcast over the
cluster bus to every node, replicas included, so a subscription on any one node hears every
revocation; redis-py's cluster pub/sub stays pinned to one node for good, so each new
subscription here is a plain connection to the next node in turn: when the listener's node
goes away, its next attempt lands on another.
"""

from __future__ import annotations

from typing import Protocol

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster

from verifier.store.connection import RedisClient, node_options
from verifier.store.target import RedisMode, RedisTarget


class Subscriptions(Protocol):
    """Makes a new, not yet subscribed pub/sub connection each time it is asked."""

    def pubsub(self) -> PubSub:
        """A pub/sub object; it connects when it subscribes."""
        ...

    async def publish(self, channel: str, message: str) -> None:
        """Publish as the scripts do (the heartbeat's way of proving the channel live)."""
        ...


class ClientSubscriptions:
    """Pub/sub through the client itself: a standalone server, or Sentinel's master."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client

    def pubsub(self) -> PubSub:
        """A pub/sub connection from the client's pool (Sentinel: to the current master)."""
        return self._client.pubsub()

    async def publish(self, channel: str, message: str) -> None:
        """PUBLISH through the client."""
        await self._client.publish(channel, message)


class ClusterSubscriptions:
    """Pub/sub on one cluster node at a time, each new one on the next node in turn."""

    def __init__(self, cluster: RedisCluster, target: RedisTarget) -> None:
        self._cluster = cluster
        self._target = target
        self._turn = 0

    def pubsub(self) -> PubSub:
        """A pub/sub connection to the next node (the client's known nodes, else the seeds)."""
        known = [(node.host, int(node.port)) for node in self._cluster.get_nodes()]
        nodes = known or [(node.host, node.port) for node in self._target.nodes]
        host, port = nodes[self._turn % len(nodes)]
        self._turn += 1
        node = aioredis.Redis(host=host, port=port, **node_options(self._target))
        return node.pubsub()

    async def publish(self, channel: str, message: str) -> None:
        """PUBLISH on any node: the cluster bus carries it to every other."""
        await self._cluster.publish(channel, message)


def subscriptions(target: RedisTarget, client: RedisClient) -> Subscriptions:
    """Where to subscribe for `target`, whose commands go through `client`."""
    if target.mode is RedisMode.CLUSTER:
        if not isinstance(client, RedisCluster):
            raise TypeError("a Cluster target needs the cluster client connect() built")
        return ClusterSubscriptions(client, target)
    if isinstance(client, RedisCluster):
        raise TypeError("a cluster client needs a Cluster target")
    return ClientSubscriptions(client)
