"""Cluster and Sentinel failures are outages: guard() turns them into StoreUnavailable."""

from __future__ import annotations

import asyncio

import pytest
import redis.exceptions
from redis.asyncio.sentinel import MasterNotFoundError

from verifier.errors import StoreUnavailable
from verifier.store import ClusterUnreachable
from verifier.store.outages import guard, guard_for


async def _raise(error: Exception) -> None:
    raise error


@pytest.mark.parametrize(
    "error",
    [
        redis.exceptions.ClusterDownError("CLUSTERDOWN The cluster is down"),
        redis.exceptions.MasterDownError("MASTERDOWN Link with MASTER is down"),
        redis.exceptions.ClusterError("TTL exhausted."),
        redis.exceptions.SlotNotCoveredError('Slot "5" is not covered by the cluster.'),
        redis.exceptions.TryAgainError("TRYAGAIN"),
        MasterNotFoundError("No master found for 'main'"),
        ClusterUnreachable("no reachable cluster node serves every slot"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_a_cluster_or_sentinel_failure_is_store_unavailable(error: Exception) -> None:
    with pytest.raises(StoreUnavailable) as caught:
        asyncio.run(guard(_raise(error), "sessions"))
    # The type only: redis-py's messages can name hosts.
    assert str(caught.value) == type(error).__name__


def test_a_cross_slot_error_is_a_bug_not_an_outage() -> None:
    # Every script touches one slot; if one ever did not, it must fail loudly (a 500 in
    # the logs), not pass for a Redis outage that fails closed in silence.
    with pytest.raises(redis.exceptions.RedisClusterException):
        asyncio.run(guard(_raise(redis.exceptions.RedisClusterException("CROSSSLOT")), "sessions"))


def test_a_store_name_outside_the_metric_labels_is_refused_when_the_module_loads() -> None:
    with pytest.raises(ValueError, match="REDIS_STORES"):
        guard_for("someone else")
