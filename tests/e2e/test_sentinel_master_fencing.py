"""The Sentinel client uses only the master a majority of the sentinels confirm (real Sentinel).

Each test has a deployment of its own (a master, a replica, three sentinels) and a client
built by `verifier.store.connect` with an injected clock, so "a second later" is a step of
that clock and not a sleep.

The split the first test makes is the one a SIGSTOP or a healed partition leaves behind:
two servers that both call themselves master, the sentinels naming the new one, the old
one holding what the new one has since deleted. It is made without a race: the replica is
promoted by hand and the sentinels are pointed at it, while the old master runs on.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redis.exceptions
from redis_topologies import DOWN_AFTER_MILLISECONDS, SENTINEL_MASTER, SentinelDeployment

from verifier.demo.processes import LOOPBACK
from verifier.store import RedisMode, RedisTarget, connect, parse_nodes
from verifier.store.sentinel import CONFIRM_SECONDS, STALE_SECONDS

pytestmark = pytest.mark.ha

KEY = "fencing-probe"


class StepClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def sentinel_deployment() -> Iterator[SentinelDeployment]:
    """A deployment for this test alone: the test changes who is master."""
    deployment = SentinelDeployment(Path(tempfile.mkdtemp(prefix="verifier-e2e-fencing-")))
    try:
        deployment.start()
        yield deployment
    finally:
        for process in deployment.servers.values():
            with contextlib.suppress(ProcessLookupError):
                if process.is_running():
                    process.send_signal(signal.SIGCONT)  # a stopped one ignores SIGTERM
        deployment.stop()
        shutil.rmtree(deployment.workdir, ignore_errors=True)


def _target(deployment: SentinelDeployment) -> RedisTarget:
    return RedisTarget(
        mode=RedisMode.SENTINEL,
        nodes=parse_nodes(deployment.sentinels),
        sentinel_master=SENTINEL_MASTER,
    )


def _node(port: int) -> redis.Redis:
    return redis.Redis(host=LOOPBACK, port=port, decode_responses=True, socket_timeout=5)


def _split_brain(deployment: SentinelDeployment) -> None:
    """Promote the replica by hand and point every sentinel at it; the old master runs on."""
    with _node(deployment.replica_port) as replica:
        replica.execute_command("REPLICAOF", "NO", "ONE")
        replica.set(KEY, "new master")
    for port in deployment.sentinel_ports:
        with _node(port) as sentinel:
            sentinel.execute_command("SENTINEL", "REMOVE", SENTINEL_MASTER)
            sentinel.execute_command(
                "SENTINEL", "MONITOR", SENTINEL_MASTER, LOOPBACK, deployment.replica_port, 2
            )
            sentinel.execute_command(
                "SENTINEL", "SET", SENTINEL_MASTER,
                "down-after-milliseconds", DOWN_AFTER_MILLISECONDS,
            )  # fmt: skip
            assert int(sentinel.sentinel_get_master_addr_by_name(SENTINEL_MASTER)[1]) == (
                deployment.replica_port
            )


def _clients_of(port: int) -> int:
    """Connections to this server other than the one asking."""
    with _node(port) as node:
        return len(node.client_list()) - 1


def test_a_connection_to_the_old_master_is_dropped_once_the_sentinels_name_another(
    sentinel_deployment: SentinelDeployment,
) -> None:
    clock = StepClock()
    old_master = sentinel_deployment.master_port

    async def scenario() -> tuple[bytes | None, bytes | None, list[bytes | None], bytes | None]:
        client = connect(_target(sentinel_deployment), clock=clock)
        try:
            # A subscription holds a connection for good: it must move too.
            pubsub = client.pubsub()
            await pubsub.subscribe("fencing-channel")
            assert (await pubsub.get_message(timeout=5))["type"] == "subscribe"
            # And a command connection left idle in the pool (the pool opens no new one).
            await client.set(KEY, "old master")
            _split_brain(sentinel_deployment)
            # Confirmed less than CONFIRM_SECONDS ago: the old master may still answer.
            within_bound = await client.get(KEY)
            clock.advance(CONFIRM_SECONDS + 0.01)
            after_bound = await client.get(KEY)
            later = [await client.get(KEY) for _ in range(20)]
            # The subscription reconnects to the new master and hears what is published there.
            with _node(sentinel_deployment.replica_port) as new_master:
                for _ in range(100):
                    message = await pubsub.get_message(timeout=0.1)
                    if message is not None and message["type"] == "message":
                        break
                    new_master.publish("fencing-channel", "heard")
                else:
                    message = None
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            heard = None if message is None else message["data"]
            return within_bound, after_bound, later, heard
        finally:
            await client.aclose()

    within_bound, after_bound, later, heard = asyncio.run(scenario())
    # The split is real: the old master still calls itself master and holds the old value.
    with _node(old_master) as node:
        assert node.execute_command("ROLE")[0] == "master"
        assert node.get(KEY) == "old master"
    assert within_bound in (b"old master", b"new master")
    assert after_bound == b"new master"
    assert later == [b"new master"] * 20
    assert heard == b"heard"
    assert _clients_of(old_master) == 0


def test_without_a_majority_of_sentinels_the_master_goes_unused_after_a_while(
    sentinel_deployment: SentinelDeployment,
) -> None:
    clock = StepClock()
    sentinels = [
        process
        for name, process in sentinel_deployment.servers.items()
        if name.startswith("sentinel")
    ]

    async def scenario() -> None:
        client = connect(_target(sentinel_deployment), clock=clock)
        try:
            await client.set(KEY, "value")
            sentinels[0].send_signal(signal.SIGSTOP)
            # One of three silent: two still make a majority, for as long as it lasts.
            for _ in range(3):
                clock.advance(STALE_SECONDS)
                assert await client.get(KEY) == b"value"
            sentinels[1].send_signal(signal.SIGSTOP)
            # Two of three silent: the master confirmed last serves a little longer...
            clock.advance(CONFIRM_SECONDS + 0.01)
            assert await client.get(KEY) == b"value"
            # ...and then nothing does: a failover may have happened where we cannot see.
            clock.advance(STALE_SECONDS)
            with pytest.raises(redis.exceptions.ConnectionError, match="majority"):
                await client.get(KEY)
            for sentinel in sentinels[:2]:
                sentinel.send_signal(signal.SIGCONT)
            clock.advance(CONFIRM_SECONDS + 0.01)
            assert await client.get(KEY) == b"value"
        finally:
            await client.aclose()

    try:
        asyncio.run(scenario())
    finally:
        for sentinel in sentinels:
            sentinel.send_signal(signal.SIGCONT)
