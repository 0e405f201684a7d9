"""Write scripts whose effect must reach replicas before the verifier acts on it (WAIT)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.cluster import PipelineCommand, RedisCluster
from redis.commands.core import AsyncScript

from verifier.store.connection import RedisClient


@dataclass(frozen=True, slots=True)
class ReplicaAck:
    """How many replicas must confirm a write, and how long to wait for them."""

    min_replicas: int = 0  # 0: do not wait (replication stays asynchronous)
    wait_ms: int = 100

    @property
    def enabled(self) -> bool:
        """True when writes wait for replicas."""
        return self.min_replicas > 0


NO_REPLICA_ACK = ReplicaAck()


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """A write script's reply, and whether enough replicas confirmed its effect."""

    reply: Any
    confirmed: bool


class ReplicaMoved(redis.exceptions.ConnectionError):
    """The slot's master moved while a confirmed write was sent to it: cannot tell yet."""


async def run_confirmed(
    client: RedisClient,
    script: AsyncScript,
    keys: Sequence[str],
    args: Sequence[Any],
    ack: ReplicaAck,
) -> Acknowledged:
    """Run a write script, then WAIT for `ack.min_replicas` on the connection that wrote.

    WAIT counts only the writes of its own connection, so both go down one pinned
    connection: a single-connection client on a standalone or Sentinel master, the
    slot's master's connection on a Cluster. Without `ack` the script just runs.
    """
    if not ack.enabled:
        return Acknowledged(await script(keys=keys, args=args), confirmed=True)
    if isinstance(client, RedisCluster):
        reply, replicas = await _on_cluster_node(client, script, keys, args, ack)
    else:
        reply, replicas = await _on_pinned_connection(client, script, keys, args, ack)
    return Acknowledged(reply, confirmed=replicas >= ack.min_replicas)


async def _on_pinned_connection(
    client: aioredis.Redis,
    script: AsyncScript,
    keys: Sequence[str],
    args: Sequence[Any],
    ack: ReplicaAck,
) -> tuple[Any, int]:
    # client() borrows one connection of the pool until the block ends. A retry after a
    # timeout redials that same connection; the scripts write on every run (the rotation
    # re-states its hash), so the WAIT after a retry still covers the first run's write.
    async with client.client() as pinned:
        reply = await script(keys=keys, args=args, client=pinned)
        replicas = await pinned.wait(ack.min_replicas, ack.wait_ms)
    return reply, int(replicas)


async def _on_cluster_node(
    client: RedisCluster,
    script: AsyncScript,
    keys: Sequence[str],
    args: Sequence[Any],
    ack: ReplicaAck,
) -> tuple[Any, int]:
    # The cluster client spreads commands over connections; a node's pipeline keeps the
    # script and the WAIT on one connection to the master that takes the write.
    await client.initialize()
    relearned = loaded = False
    while True:
        node = client.get_node_from_key(keys[0])
        if node is None:
            raise redis.exceptions.SlotNotCoveredError("no master serves the slot")  # type: ignore[no-untyped-call, unused-ignore]
        evalsha = PipelineCommand(0, "EVALSHA", script.sha, len(keys), *keys, *args)
        wait = PipelineCommand(1, "WAIT", ack.min_replicas, ack.wait_ms)
        await node.execute_pipeline([evalsha, wait])
        for result in (evalsha.result, wait.result):
            if isinstance(
                result, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
            ):
                # The pipeline's connection may hold an unread reply: drop the node's
                # connections (they redial when next used), as the cluster client does,
                # and learn the map again, so that the next call finds a promoted replica.
                await node.disconnect()
                await _relearn(client)
                raise result
        error = evalsha.result if isinstance(evalsha.result, Exception) else None
        if isinstance(error, redis.exceptions.NoScriptError) and not loaded:
            # A new master lacks the script (SCRIPT LOAD is not replicated): load it there.
            await node.execute_command("SCRIPT", "LOAD", script.script)
            loaded = True
            continue
        if isinstance(error, redis.exceptions.AskError):
            # MOVED or ASK: the script did not run. Learn the new map once, then give up.
            if not relearned:
                await _relearn(client)
                relearned = True
                continue
            raise ReplicaMoved("the slot moved during a confirmed write") from error
        if error is not None:
            raise error
        if isinstance(wait.result, Exception):
            raise wait.result
        return evalsha.result, int(wait.result)


async def _relearn(client: RedisCluster) -> None:
    # Best effort: a cluster in the middle of a failover may not answer yet, and then the
    # write's own error (an outage, 503) is what the caller must see, not this one.
    with contextlib.suppress(redis.exceptions.RedisError, redis.exceptions.RedisClusterException):
        await client.nodes_manager.initialize()
