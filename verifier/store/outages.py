"""The Redis connection, and the one rule for its failures: an outage is not a logout."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from time import perf_counter
from typing import Protocol, TypeVar

import redis.exceptions

from verifier.errors import StoreUnavailable
from verifier.observe.metrics import NO_METRICS, REDIS_STORES, Metrics
from verifier.store import RedisClient, RedisTarget
from verifier.store import connect as connect_target

T = TypeVar("T")

# Connection trouble means "cannot tell", never "logged out": callers fail closed but keep
# the user's cookies. ReadOnlyError comes from a replica during a failover. On a Cluster,
# ClusterError (CLUSTERDOWN, MASTERDOWN, redirections without end) and SlotNotCoveredError
# mean a slot has no master for now; Sentinel's MasterNotFoundError is a ConnectionError.
# redis-py has no class of its own for this error code: it arrives as a ResponseError.
_NO_REPLICAS = "NOREPLICAS"

REDIS_OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterError,
    redis.exceptions.SlotNotCoveredError,
    OSError,
)


def connect(url: str) -> RedisClient:
    """A client of the standalone server at `url` (see verifier.store.connect)."""
    return connect_target(RedisTarget(url=url))


class _CallTiming:
    """Where guard() reports each call's time: every store's call passes there, and none
    holds a metrics handle of its own. One per process, set by create_app."""

    metrics: Metrics = NO_METRICS


_TIMING = _CallTiming()


def time_calls_into(metrics: Metrics) -> None:
    """Report every guarded Redis call of this process to `metrics`."""
    _TIMING.metrics = metrics


async def guard(call: Awaitable[T], store: str) -> T:
    """Await a Redis call of `store` (one of REDIS_STORES), turning connection trouble into
    StoreUnavailable, and time it."""
    started = perf_counter()
    try:
        result = await call
    except REDIS_OUTAGE_ERRORS as error:
        _TIMING.metrics.redis_call(store, perf_counter() - started, failed=True)
        raise StoreUnavailable(type(error).__name__) from error
    except redis.exceptions.ResponseError as error:
        if not str(error).startswith(_NO_REPLICAS):
            raise
        _TIMING.metrics.redis_call(store, perf_counter() - started, failed=True)
        # A master with `min-replicas-to-write` refuses writes while cut off from its
        # replicas (a partition before a failover): cannot write now, nobody logged out.
        raise StoreUnavailable("NoReplicas") from error
    _TIMING.metrics.redis_call(store, perf_counter() - started, failed=False)
    return result


class Guard(Protocol):
    """guard() for one store: `await guarded(call)`."""

    def __call__(self, call: Awaitable[T]) -> Awaitable[T]:
        """Await `call` as guard() does, timed under this store's name."""
        ...


def guard_for(store: str) -> Guard:
    """guard() with `store` filled in, for a store module to call its Redis through."""
    if store not in REDIS_STORES:
        raise ValueError(f"{store!r} is not one of REDIS_STORES")

    def guarded(call: Awaitable[T]) -> Awaitable[T]:
        return guard(call, store)

    return guarded


async def ping_problem(client: RedisClient, timeout_seconds: float) -> str | None:
    """None if Redis answers PING within the timeout, else why not (never the URL)."""
    try:
        await asyncio.wait_for(client.ping(), timeout_seconds)
    except TimeoutError:
        return f"redis: no answer within {timeout_seconds:g} s"
    except (redis.exceptions.RedisError, OSError) as error:
        # The type alone: a message could name the host, and an error from a
        # misconfigured server could echo what was sent.
        return f"redis: {type(error).__name__}"
    return None


def as_text(value: bytes | str) -> str:
    """Decode a Redis reply that may be bytes."""
    return value.decode() if isinstance(value, bytes) else value
