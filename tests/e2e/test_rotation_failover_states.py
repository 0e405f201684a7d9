"""What a failover leaves of a rotation, on a real master and replica, and what it means.

A master and its replica are started for each test; "the failover" is the replica promoted
(`REPLICAOF NO ONE`) at the moment the test names, and a store on it then reads what the
replica kept, exactly as a verifier does after Sentinel or the Cluster promotes one.

- A rotation whose WAIT finds no replica any more: the replica took the rotation and was
  promoted before the mark that follows (`undelivered`) reached it. This is the interleaving
  of a Sentinel failover in the middle of a refresh (the write on the old master, the mark
  sent after it, the verifier's pool switching in between). The token the client kept must
  go on working (in grace, then rotating again), never be taken for a replay.
- A rotation the new master never saw: a token of a later generation is refused as `lost`,
  not `unknown` and never `replayed`, and nothing is revoked.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
import redis
import redis.asyncio as aioredis
from redis_topologies import start_server, wait_for

from verifier.demo import processes
from verifier.demo.processes import ManagedProcess
from verifier.errors import RefreshRejected, StoreUnavailable
from verifier.sessions.store import (
    REPLICAS_BEHIND,
    RefreshToken,
    RotationOutcome,
    SessionPolicy,
    SessionStore,
)
from verifier.store.keyspace import KeySpace
from verifier.store.replication import ReplicaAck

POLICY = SessionPolicy(
    idle_seconds=600, absolute_seconds=3600, grace_seconds=10, max_sessions_per_user=50
)
ONE_REPLICA = ReplicaAck(min_replicas=1, wait_ms=100)


class Clock:
    """The wall clock, which a test moves forward past the grace window by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@dataclass
class Pair:
    """A master and its replica on 127.0.0.1."""

    master: ManagedProcess
    replica: ManagedProcess
    master_port: int
    replica_port: int

    def url(self, port: int) -> str:
        return f"redis://{processes.LOOPBACK}:{port}/0"


@pytest.fixture
def pair() -> Iterator[Pair]:
    """A master with one replica in sync, stopped (by PID) after the test."""
    workdir = Path(tempfile.mkdtemp(prefix="verifier-e2e-rotation-failover-"))
    started: list[ManagedProcess] = []
    try:
        master_port, replica_port = processes.free_port(), processes.free_port()
        started.append(start_server(workdir, "master", master_port))
        started.append(
            start_server(
                workdir,
                "replica",
                replica_port,
                "--replicaof",
                processes.LOOPBACK,
                str(master_port),
            )
        )

        def in_sync() -> bool:
            with redis.Redis(port=replica_port, host=processes.LOOPBACK) as replica:
                return replica.info("replication").get("master_link_status") == "up"

        wait_for(in_sync, "the replica in sync")
        yield Pair(started[0], started[1], master_port, replica_port)
    finally:
        for process in started:
            process.stop()
        shutil.rmtree(workdir, ignore_errors=True)


class FailoverAtWait(aioredis.Redis):
    """A client whose WAIT is where the failover strikes.

    Before the WAIT that follows a rotation runs, `strike` waits until the replica holds
    everything the master wrote (the rotation) and promotes it: the WAIT then finds no
    replica, the verifier withholds the rotation, and its mark goes to the old master only.
    Set per test on the class, because the pinned client redis-py hands out for the
    script and its WAIT is built from the class.
    """

    strike: ClassVar[Callable[[], Awaitable[None]] | None] = None

    async def wait(self, num_replicas: int, timeout: int, **kwargs: Any) -> Any:
        strike, FailoverAtWait.strike = FailoverAtWait.strike, None
        if strike is not None:
            await strike()
        return await super().wait(num_replicas, timeout, **kwargs)


async def _promote_once_replicated(pair: Pair) -> None:
    async with (
        aioredis.Redis.from_url(pair.url(pair.master_port)) as master,
        aioredis.Redis.from_url(pair.url(pair.replica_port)) as replica,
    ):
        written = (await master.info("replication"))["master_repl_offset"]
        deadline = time.monotonic() + 10
        while (await replica.info("replication"))["slave_repl_offset"] < written:
            assert time.monotonic() < deadline, "the replica never took the rotation"
            await asyncio.sleep(0.01)
        await replica.replicaof("NO", "ONE")


@contextlib.asynccontextmanager
async def _clients(pair: Pair) -> AsyncIterator[tuple[aioredis.Redis, aioredis.Redis]]:
    master = FailoverAtWait.from_url(pair.url(pair.master_port))
    promoted = aioredis.Redis.from_url(pair.url(pair.replica_port))
    try:
        yield master, promoted
    finally:
        await master.aclose()
        await promoted.aclose()


def _keys() -> KeySpace:
    return KeySpace(f"failover-{secrets.token_hex(4)}")


def test_a_rotation_kept_by_the_promoted_replica_without_its_later_mark_is_no_replay(
    pair: Pair,
) -> None:
    async def scenario() -> None:
        clock, keys = Clock(), _keys()
        async with _clients(pair) as (master, promoted):
            on_master = SessionStore(master, keys, POLICY, clock, replica_ack=ONE_REPLICA)
            session = await on_master.create("alice")
            FailoverAtWait.strike = lambda: _promote_once_replicated(pair)
            with pytest.raises(StoreUnavailable, match=REPLICAS_BEHIND):
                await on_master.refresh(str(session.refresh_token))
            kept = session.refresh_token  # the client got a 503 and kept its cookie
            # The promoted replica has the rotation, not the `undelivered` mark after it.
            stored = await promoted.hgetall(keys.session("alice", session.session_id))
            assert stored[b"previous"].decode() == kept.secret_hash
            assert b"undelivered" not in stored
            assert stored[b"unconfirmed"] == stored[b"current"]
            on_promoted = SessionStore(promoted, keys, POLICY, clock, replica_ack=ONE_REPLICA)
            plain = SessionStore(promoted, keys, POLICY, clock)
            # Inside the grace window the kept token lets the user in without rotating...
            graced = await plain.refresh(str(kept))
            assert graced.outcome is RotationOutcome.GRACE
            # ...and past it, it rotates again: it is the holder's own, not a stolen copy.
            clock.now += POLICY.grace_seconds + 1
            rotated = await plain.refresh(str(kept))
            assert rotated.outcome is RotationOutcome.ROTATED
            assert rotated.new_refresh_token is not None
            assert await on_promoted.is_live("alice", session.session_id)
            # The chain goes on from there as always.
            again = await plain.refresh(str(rotated.new_refresh_token))
            assert again.outcome is RotationOutcome.ROTATED

    asyncio.run(scenario())


def test_a_confirmed_rotation_hands_its_token_over_and_the_replaced_one_is_a_replay_again(
    pair: Pair,
) -> None:
    async def scenario() -> None:
        clock, keys = Clock(), _keys()
        async with aioredis.Redis.from_url(pair.url(pair.master_port)) as master:
            store = SessionStore(master, keys, POLICY, clock, replica_ack=ONE_REPLICA)
            session = await store.create("bob")
            rotated = await store.refresh(str(session.refresh_token))
            assert rotated.outcome is RotationOutcome.ROTATED
            stored = await master.hgetall(keys.session("bob", session.session_id))
            # Confirmed by the replica and handed out: no mark left.
            assert b"unconfirmed" not in stored
            clock.now += POLICY.grace_seconds + 1
            with pytest.raises(RefreshRejected, match="replayed"):
                await store.refresh(str(session.refresh_token))
            assert not await store.is_live("bob", session.session_id)

    asyncio.run(scenario())


def test_a_token_from_a_rotation_the_promoted_replica_never_saw_is_lost_not_replayed(
    pair: Pair,
) -> None:
    async def scenario() -> None:
        clock, keys = Clock(), _keys()
        async with (
            aioredis.Redis.from_url(pair.url(pair.master_port)) as master,
            aioredis.Redis.from_url(pair.url(pair.replica_port)) as replica,
        ):
            confirmed = SessionStore(master, keys, POLICY, clock, replica_ack=ONE_REPLICA)
            session = await confirmed.create("carol")
            first = await confirmed.refresh(str(session.refresh_token))
            assert first.new_refresh_token is not None
            assert first.new_refresh_token.generation == 1
            # The replica is cut off and promoted; the old master rotates once more without
            # waiting for replicas (VERIFIER_REDIS_MIN_REPLICAS=0): a write the failover loses.
            await replica.replicaof("NO", "ONE")
            unsafe = SessionStore(master, keys, POLICY, clock)
            second = await unsafe.refresh(str(first.new_refresh_token))
            assert second.new_refresh_token is not None
            assert second.new_refresh_token.generation == 2
            on_promoted = SessionStore(replica, keys, POLICY, clock)
            with pytest.raises(RefreshRejected) as refused:
                await on_promoted.refresh(str(second.new_refresh_token))
            assert refused.value.reason == "lost"
            # Refused, not a replay: the session is not revoked there.
            assert await on_promoted.is_live("carol", session.session_id)
            # A made-up secret of the same session at an earlier generation is unknown.
            made_up = RefreshToken.mint("carol", session.session_id, generation=0)
            with pytest.raises(RefreshRejected) as unknown:
                await on_promoted.refresh(str(made_up))
            assert unknown.value.reason == "unknown"

    asyncio.run(scenario())
