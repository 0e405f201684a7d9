"""Confirmed writes (WAIT) and a flushed script cache on a real Sentinel and a real Cluster.

A rotation or revocation that waited for one replica is on that replica when the store
answers; one that asks for more replicas than exist is withheld (503) and its old token
rotates again; after SCRIPT FLUSH on every master (as after a failover, SCRIPT LOAD is not
replicated) every store operation still works, with and without the wait.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import pytest
import redis
from redis_topologies import (
    SENTINEL_MASTER,
    RedisClusterDeployment,
    SentinelDeployment,
    wait_for,
)

from verifier.demo.processes import LOOPBACK
from verifier.errors import StoreUnavailable
from verifier.sessions.store import REPLICAS_BEHIND, RotationOutcome, SessionPolicy, SessionStore
from verifier.store import RedisClient, RedisMode, RedisTarget, connect, parse_nodes
from verifier.store.keyspace import KeySpace
from verifier.store.replication import ReplicaAck

pytestmark = pytest.mark.ha

T = TypeVar("T")
POLICY = SessionPolicy(
    idle_seconds=600, absolute_seconds=3600, grace_seconds=30, max_sessions_per_user=10
)
# Generous for a busy 2-core machine: WAIT returns as soon as the replica acknowledges.
ONE_REPLICA = ReplicaAck(min_replicas=1, wait_ms=400)
# Each master of both deployments has exactly one replica.
TWO_REPLICAS = ReplicaAck(min_replicas=2, wait_ms=20)


@dataclass(frozen=True)
class Deployment:
    """A real deployment: the verifier's target, and direct access to its servers."""

    target: RedisTarget
    master_ports: Callable[[], list[int]]
    # The port of the replica that holds `key` now.
    replica_port: Callable[[str], int]


def _node(port: int) -> redis.Redis:
    return redis.Redis(host=LOOPBACK, port=port, socket_timeout=2.0, decode_responses=True)


# Longer than the 5 s a manual failover waits for votes before it is given up.
MANUAL_FAILOVER_RETRY_SECONDS = 6.0


def _cluster_replica_port(cluster: RedisClusterDeployment, key: str) -> int:
    # The replica's own view (its INFO), which is current the moment it follows a master;
    # the master's list of replicas comes later, over the cluster bus.
    master = cluster.port_serving(key)
    for port in cluster.running_ports():
        with _node(port) as node:
            replication = node.info("replication")
        if replication["role"] == "slave" and int(replication["master_port"]) == master:
            return port
    raise AssertionError(f"no replica follows the master on {master}")


@pytest.fixture(params=["sentinel", "cluster"])
def deployment(request: pytest.FixtureRequest) -> Deployment:
    """A real Sentinel or Cluster deployment, as the settings would name it."""
    if request.param == "sentinel":
        sentinel: SentinelDeployment = request.getfixturevalue("redis_sentinel")

        def sentinel_replica(_key: str) -> int:
            master = sentinel.current_master_port()
            others = {sentinel.master_port, sentinel.replica_port} - {master}
            return others.pop()

        return Deployment(
            target=RedisTarget(
                mode=RedisMode.SENTINEL,
                nodes=parse_nodes(sentinel.sentinels),
                sentinel_master=SENTINEL_MASTER,
            ),
            master_ports=lambda: [sentinel.current_master_port()],
            replica_port=sentinel_replica,
        )
    cluster: RedisClusterDeployment = request.getfixturevalue("redis_cluster")
    return Deployment(
        target=RedisTarget(mode=RedisMode.CLUSTER, nodes=parse_nodes(cluster.seeds.split(",")[0])),
        master_ports=cluster.master_ports,
        replica_port=lambda key: _cluster_replica_port(cluster, key),
    )


def _run(target: RedisTarget, scenario: Callable[[RedisClient, KeySpace], Awaitable[T]]) -> T:
    async def main() -> T:
        client = connect(target)
        try:
            return await scenario(client, KeySpace(f"ack-{secrets.token_hex(4)}"))
        finally:
            await client.aclose()

    return asyncio.run(main())


def _on_replica(deployment: Deployment, key: str, field: str) -> str | None:
    with _node(deployment.replica_port(key)) as replica:
        # A cluster replica serves reads only once the connection says READONLY.
        if deployment.target.mode is RedisMode.CLUSTER:
            replica.execute_command("READONLY")
        value: str | None = replica.hget(key, field)
        return value


def _exists_on_replica(deployment: Deployment, key: str) -> bool:
    with _node(deployment.replica_port(key)) as replica:
        if deployment.target.mode is RedisMode.CLUSTER:
            replica.execute_command("READONLY")
        return bool(replica.exists(key))


def test_a_confirmed_rotation_and_revocation_are_on_the_replica_when_answered(
    deployment: Deployment,
) -> None:
    async def scenario(client: RedisClient, keys: KeySpace) -> None:
        store = SessionStore(client, keys, POLICY, time.time, replica_ack=ONE_REPLICA)
        # Users spread over the cluster's slots, so every master takes a confirmed write.
        for user in ("alice", "bob", "carol", "dave"):
            session = await store.create(user)
            rotated = await store.refresh(str(session.refresh_token))
            assert rotated.outcome is RotationOutcome.ROTATED
            assert rotated.new_refresh_token is not None
            key = keys.session(user, session.session_id)
            expected = rotated.new_refresh_token.secret_hash
            assert _on_replica(deployment, key, "current") == expected
            assert await store.revoke(user, session.session_id)
            assert not _exists_on_replica(deployment, key)
            other = await store.create(user)
            assert await store.revoke_all(user) == [other.session_id]
            assert not _exists_on_replica(deployment, keys.session(user, other.session_id))

    _run(deployment.target, scenario)


def test_a_rotation_fewer_replicas_confirm_is_withheld_and_its_token_rotates_again(
    deployment: Deployment,
) -> None:
    async def scenario(client: RedisClient, keys: KeySpace) -> None:
        plain = SessionStore(client, keys, POLICY, time.time)
        demanding = SessionStore(client, keys, POLICY, time.time, replica_ack=TWO_REPLICAS)
        for user in ("erin", "frank", "grace"):
            session = await plain.create(user)
            with pytest.raises(StoreUnavailable, match=REPLICAS_BEHIND):
                await demanding.refresh(str(session.refresh_token))
            with pytest.raises(StoreUnavailable, match=REPLICAS_BEHIND):
                await demanding.revoke(user, "x" * 22)
            # The client kept the token it presented: it rotates, it is not merely in grace.
            again = await plain.refresh(str(session.refresh_token))
            assert again.outcome is RotationOutcome.ROTATED
            assert again.new_refresh_token is not None
            assert (await plain.refresh(str(again.new_refresh_token))).new_refresh_token

    _run(deployment.target, scenario)


@pytest.mark.parametrize("ack", [ReplicaAck(), ONE_REPLICA], ids=["no-wait", "wait"])
def test_every_session_operation_works_after_script_flush_on_every_master(
    deployment: Deployment, ack: ReplicaAck
) -> None:
    def flush_everywhere() -> None:
        for port in deployment.master_ports():
            with _node(port) as master:
                master.script_flush()

    async def scenario(client: RedisClient, keys: KeySpace) -> None:
        store = SessionStore(client, keys, POLICY, time.time, replica_ack=ack)
        for user in ("henry", "iris", "jack"):
            warm = await store.create(user)
            await store.refresh(str(warm.refresh_token))
            flush_everywhere()
            session = await store.create(user)
            flush_everywhere()
            rotated = await store.refresh(str(session.refresh_token))
            assert rotated.outcome is RotationOutcome.ROTATED
            flush_everywhere()
            assert await store.step_up(user, session.session_id, ["otp"]) is not None
            flush_everywhere()
            assert await store.revoke(user, session.session_id)
            flush_everywhere()
            assert await store.revoke_all(user) == [warm.session_id]

    _run(deployment.target, scenario)


def test_a_confirmed_rotation_follows_its_slot_to_the_promoted_replica(
    redis_cluster: RedisClusterDeployment,
) -> None:
    def fail_over(key: str) -> None:
        # CLUSTER FAILOVER on the replica: a manual failover, the old master demoted to its
        # replica (it answers MOVED for the slot from then on).
        promoted = _cluster_replica_port(redis_cluster, key)
        asked_at = -MANUAL_FAILOVER_RETRY_SECONDS

        def promoted_now() -> bool:
            nonlocal asked_at
            if redis_cluster.port_serving(key) == promoted:
                return True
            # A manual failover is given up after 5 s without the masters' votes, and they
            # refuse a second vote for the same slots within twice the node timeout (the
            # fail-back right after the first failover): ask again until it takes.
            if time.monotonic() - asked_at >= MANUAL_FAILOVER_RETRY_SECONDS:
                with _node(promoted) as replica:
                    replica.execute_command("CLUSTER", "FAILOVER")
                asked_at = time.monotonic()
            return False

        wait_for(promoted_now, "the replica promoted")
        redis_cluster.wait_until_whole()

    target = RedisTarget(
        mode=RedisMode.CLUSTER, nodes=parse_nodes(redis_cluster.seeds.split(",")[0])
    )

    async def scenario(client: RedisClient, keys: KeySpace) -> None:
        store = SessionStore(client, keys, POLICY, time.time, replica_ack=ONE_REPLICA)
        session = await store.create("kate")
        key = keys.session("kate", session.session_id)
        first = await store.refresh(str(session.refresh_token))  # the client knows the map
        assert first.new_refresh_token is not None
        fail_over(key)
        try:
            # The client's map still names the old master: MOVED, learn the map, write
            # and wait on the new master.
            rotated = await store.refresh(str(first.new_refresh_token))
            assert rotated.outcome is RotationOutcome.ROTATED
            assert rotated.new_refresh_token is not None
            expected = rotated.new_refresh_token.secret_hash
            demoted = Deployment(
                target,
                redis_cluster.master_ports,
                lambda k: _cluster_replica_port(redis_cluster, k),
            )
            assert _on_replica(demoted, key, "current") == expected
        finally:
            fail_over(key)  # back as it was, for the tests that follow

    _run(target, scenario)
