"""One factory for the Redis client, whichever kind of deployment the settings name."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff, NoBackoff

from verifier.store.sentinel import FencedSentinelPool
from verifier.store.target import RedisMode, RedisTarget, RedisTls

# What the stores talk to. Both kinds speak the same commands; only this subpackage builds
# one or knows which it has.
RedisClient = aioredis.Redis | RedisCluster

# A request waits at most ~1 s on a dead Redis.
CONNECT_TIMEOUT_SECONDS = 0.5
COMMAND_TIMEOUT_SECONDS = 1.0
HEALTH_CHECK_SECONDS = 30


class ClusterUnreachable(redis.exceptions.ConnectionError):
    """No seed node answered, or the nodes do not cover every slot: the cluster is down."""


class _Cluster(RedisCluster):
    """RedisCluster whose failures to map the cluster are connection errors (outages)."""

    async def initialize(
        self,
        additional_startup_nodes_info: list[tuple[str, int]] | None = None,
        last_failed_node_name: str | None = None,
    ) -> RedisCluster:
        """Learn the cluster's nodes and slots, as redis-py does, raising ClusterUnreachable."""
        try:
            return await super().initialize(additional_startup_nodes_info, last_failed_node_name)
        except redis.exceptions.RedisClusterException as error:
            # redis-py raises its generic cluster exception (not a RedisError) when no seed
            # answers or the slots are not all covered, with a seed's address in the text.
            # Both mean "cannot tell" for every command: an outage, named without the address.
            raise ClusterUnreachable("no reachable cluster node serves every slot") from error


def _retry() -> Retry:
    # One quick retry rides over a dropped idle connection (e.g. after a Redis restart);
    # more would only hold the request longer while Redis is really down.
    return Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=1)


class NamesRedis(Protocol):
    """What `client_for` reads of the settings: the store never needs their whole type."""

    @property
    def redis(self) -> RedisTarget:
        """The Redis deployment to connect to."""


def client_for(settings: NamesRedis) -> RedisClient:
    """The Redis client of the service and the CLI, for the deployment the settings name."""
    return connect(settings.redis)


def connect(target: RedisTarget, clock: Callable[[], float] = time.monotonic) -> RedisClient:
    """A client for `target` with short timeouts; connects lazily (raises only ValueError).

    `clock` (monotonic seconds) paces how often a Sentinel client confirms its master.
    """
    if target.mode is RedisMode.SENTINEL:
        return _sentinel_master(target, clock)
    if target.mode is RedisMode.CLUSTER:
        return _cluster(target)
    return _standalone(target)


def _common_options(target: RedisTarget) -> dict[str, Any]:
    options: dict[str, Any] = {
        "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "socket_timeout": COMMAND_TIMEOUT_SECONDS,
        "health_check_interval": HEALTH_CHECK_SECONDS,
    }
    if target.username is not None:
        options["username"] = target.username
    if target.password is not None:
        options["password"] = target.password
    return options


def node_options(target: RedisTarget) -> dict[str, Any]:
    """Options of a plain connection to one node of `target`: timeouts, retry, ACL, TLS."""
    # Our retry, not redis-py's default (3 retries, backoff up to 10 s): a subscription
    # on a node that went away would otherwise redial it for seconds before failing.
    return {**_common_options(target), **_tls_options(target.tls), "retry": _retry()}


def _tls_options(tls: RedisTls | None) -> dict[str, Any]:
    if tls is None:
        return {}
    options: dict[str, Any] = {"ssl": True, "ssl_cert_reqs": "required"}
    if tls.ca_file is not None:
        options["ssl_ca_certs"] = tls.ca_file
    if tls.cert_file is not None:
        options["ssl_certfile"] = tls.cert_file
    if tls.key_file is not None:
        options["ssl_keyfile"] = tls.key_file
    return options


def _standalone(target: RedisTarget) -> aioredis.Redis:
    options = _common_options(target)
    if target.tls is not None:
        # The rediss:// scheme already chose TLS; only where to find the files is added.
        options.update(_tls_options(target.tls))
        del options["ssl"]
    return aioredis.Redis.from_url(target.url, retry=_retry(), **options)


def _sentinel_master(target: RedisTarget, clock: Callable[[], float]) -> aioredis.Redis:
    sentinel_options: dict[str, Any] = {
        "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "socket_timeout": COMMAND_TIMEOUT_SECONDS,
        # No retries (redis-py's default is 3, with backoff): the master is asked for
        # again within a second anyway, and a hung sentinel must not hold that up for 4 s.
        "retry": Retry(NoBackoff(), retries=0),
        **_tls_options(target.tls),
    }
    if target.sentinel_username is not None:
        sentinel_options["username"] = target.sentinel_username
    if target.sentinel_password is not None:
        sentinel_options["password"] = target.sentinel_password
    sentinel = Sentinel(  # type: ignore[no-untyped-call, unused-ignore]
        [(node.host, node.port) for node in target.nodes],
        sentinel_kwargs=sentinel_options,
        **_common_options(target),
        **_tls_options(target.tls),
        retry=_retry(),
    )
    # Our pool, not redis-py's: it uses only the master a majority of the sentinels
    # confirmed within the last second (verifier.store.sentinel says why). redis-py's own
    # part stays: a master answering READONLY (demoted) drops the connection.
    master: aioredis.Redis = sentinel.master_for(
        target.sentinel_master, connection_pool_class=FencedSentinelPool, clock=clock
    )
    return master


def _cluster(target: RedisTarget) -> RedisCluster:
    # Reads go to masters too (redis-py's default): a replica may lag behind a revocation.
    return _Cluster(
        startup_nodes=[ClusterNode(node.host, node.port) for node in target.nodes],
        retry=_retry(),
        **_common_options(target),
        **_tls_options(target.tls),
    )
