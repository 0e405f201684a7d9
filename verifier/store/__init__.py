"""Redis: connecting to a standalone server, Sentinel or Cluster, and the revocation feed.

Topology differences stay inside this package: every other module takes a `RedisClient`
and the commands it speaks, and never asks which kind of deployment it talks to.
"""

from verifier.store.connection import ClusterUnreachable, RedisClient, client_for, connect
from verifier.store.subscription import (
    ClientSubscriptions,
    ClusterSubscriptions,
    Subscriptions,
    subscriptions,
)
from verifier.store.target import RedisMode, RedisNode, RedisTarget, RedisTls, parse_nodes

__all__ = [
    "ClientSubscriptions",
    "ClusterSubscriptions",
    "ClusterUnreachable",
    "RedisClient",
    "RedisMode",
    "RedisNode",
    "RedisTarget",
    "RedisTls",
    "Subscriptions",
    "client_for",
    "connect",
    "parse_nodes",
    "subscriptions",
]
