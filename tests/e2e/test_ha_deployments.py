"""The Cluster and Sentinel fixtures are real deployments, and the facts the store builds on.

Pub/sub is what the revocation listener depends on: a message published (from Lua, as the
scripts do) on one node must reach a subscriber on another.
"""

from __future__ import annotations

import time

import pytest
import redis
from redis.cluster import ClusterNode
from redis_topologies import (
    SENTINEL_MASTER,
    TILT_PERIOD_MILLISECONDS,
    TILT_TRIGGER_MILLISECONDS,
    RedisClusterDeployment,
    SentinelDeployment,
)

from verifier.demo.processes import LOOPBACK

pytestmark = pytest.mark.ha

_PUBLISH_FROM_LUA = (
    "redis.call('SET', KEYS[1], '1'); return redis.call('PUBLISH', ARGV[1], ARGV[2])"
)


def _node(port: int) -> redis.Redis:
    return redis.Redis(host=LOOPBACK, port=port, decode_responses=True)


def _subscribed(client: redis.Redis, channel: str) -> redis.client.PubSub:
    pubsub = client.pubsub()
    pubsub.subscribe(channel)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.1)
        if message is not None and message["type"] == "subscribe":
            return pubsub
    raise AssertionError(f"no subscription to {channel} within 5 s")


def _heard(pubsub: redis.client.PubSub, expected: str, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.1)
        if message is not None and message["type"] == "message" and message["data"] == expected:
            return True
    return False


def test_cluster_has_three_masters_each_with_a_replica(
    redis_cluster: RedisClusterDeployment,
) -> None:
    assert redis_cluster.is_whole()
    assert len(redis_cluster.master_ports()) == 3
    with redis.RedisCluster(
        startup_nodes=[ClusterNode(LOOPBACK, port) for port in redis_cluster.ports],
        decode_responses=True,
    ) as cluster:
        # Keys of three hash tags land on different masters; each is served and read back.
        for tag in ("a", "b", "c"):
            cluster.set(f"probe:{{{tag}}}", tag)
            assert cluster.get(f"probe:{{{tag}}}") == tag


def test_publish_inside_lua_on_one_master_reaches_a_subscriber_on_every_other_node(
    redis_cluster: RedisClusterDeployment,
) -> None:
    key = "verifier:{publisher}:probe"
    serving = redis_cluster.port_serving(key)
    others = [port for port in redis_cluster.ports if port != serving]
    clients = [_node(port) for port in others]
    try:
        subscriptions = [_subscribed(client, "probe-channel") for client in clients]
        with _node(serving) as master:
            # PUBLISH answers how many subscribers of *this* node heard it: none here.
            assert master.eval(_PUBLISH_FROM_LUA, 1, key, "probe-channel", "hello") == 0
        assert all(_heard(pubsub, "hello") for pubsub in subscriptions)
        for pubsub in subscriptions:
            pubsub.close()
    finally:
        for client in clients:
            client.close()


def test_sentinels_see_the_master_its_replica_and_each_other(
    redis_sentinel: SentinelDeployment,
) -> None:
    assert redis_sentinel.is_whole()
    assert redis_sentinel.current_master_port() == redis_sentinel.master_port


def test_sentinels_are_guarded_against_tilt_on_a_busy_machine(
    redis_sentinel: SentinelDeployment,
) -> None:
    for port in redis_sentinel.sentinel_ports:
        with _node(port) as sentinel:
            timing = sentinel.execute_command("SENTINEL", "DEBUG")
            assert int(timing["TILT-TRIGGER"]) == TILT_TRIGGER_MILLISECONDS
            assert int(timing["TILT-PERIOD"]) == TILT_PERIOD_MILLISECONDS
            assert sentinel.sentinel_master(SENTINEL_MASTER)["is_master"]


def test_a_subscriber_on_the_replica_hears_what_lua_publishes_on_the_master(
    redis_sentinel: SentinelDeployment,
) -> None:
    with _node(redis_sentinel.replica_port) as replica:
        pubsub = _subscribed(replica, "probe-channel")
        with _node(redis_sentinel.master_port) as master:
            master.eval(_PUBLISH_FROM_LUA, 1, "verifier:{publisher}:probe", "probe-channel", "hi")
        assert _heard(pubsub, "hi")
        pubsub.close()
