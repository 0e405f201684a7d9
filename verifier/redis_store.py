"""The Redis connection, and the one rule for its failures: an outage is not a logout."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from time import perf_counter
from typing import TypeVar

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from verifier.errors import StoreUnavailable
from verifier.observe.metrics import NO_METRICS, Metrics

T = TypeVar("T")

# Connection trouble means "cannot tell", never "logged out": callers fail closed but keep
# the user's cookies. ReadOnlyError comes from a replica during a failover.
REDIS_OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.TryAgainError,
    OSError,
)


def connect(url: str) -> aioredis.Redis:
    """A client with short timeouts: a request waits at most ~1 s on a dead Redis."""
    return aioredis.Redis.from_url(
        url,
        socket_connect_timeout=0.5,
        socket_timeout=1.0,
        # One quick retry rides over a dropped idle connection (e.g. after a Redis restart);
        # more would only hold the request longer while Redis is really down.
        retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=1),
        health_check_interval=30,
    )


class _CallTiming:
    """Where guard() reports each call's time: every store's call passes there, and none
    holds a metrics handle of its own. One per process, set by create_app."""

    metrics: Metrics = NO_METRICS


_TIMING = _CallTiming()


def time_calls_into(metrics: Metrics) -> None:
    """Report every guarded Redis call of this process to `metrics`."""
    _TIMING.metrics = metrics


async def guard(call: Awaitable[T]) -> T:
    """Await a Redis call, turning connection trouble into StoreUnavailable."""
    started = perf_counter()
    try:
        result = await call
    except REDIS_OUTAGE_ERRORS as error:
        _TIMING.metrics.redis_call(perf_counter() - started, failed=True)
        raise StoreUnavailable(type(error).__name__) from error
    _TIMING.metrics.redis_call(perf_counter() - started, failed=False)
    return result


async def ping_problem(client: aioredis.Redis, timeout_seconds: float) -> str | None:
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
