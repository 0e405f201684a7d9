"""Where Redis is and how to reach it: standalone, Sentinel or Cluster, with ACL and TLS."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

_PORT_PATTERN = re.compile(r"^[0-9]{1,5}$")
# A host name or an IPv4 address; IPv6 goes in brackets ("[::1]:6379").
_HOST_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,253}$")


class RedisMode(enum.Enum):
    """The three kinds of deployment the verifier connects to."""

    STANDALONE = "standalone"
    SENTINEL = "sentinel"
    CLUSTER = "cluster"


@dataclass(frozen=True)
class RedisNode:
    """One `host:port` of a node list (sentinels, or cluster seed nodes)."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class RedisTls:
    """TLS to every Redis process: the CA to trust (None: the system's), a client certificate."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None


@dataclass(frozen=True)
class RedisTarget:
    """One Redis deployment, as the settings describe it.

    STANDALONE: `url` (which may carry credentials and rediss:// itself). SENTINEL: `nodes`
    are the sentinels, `sentinel_master` the name they know the master by. CLUSTER: `nodes`
    are seeds; the client learns the rest of the cluster from them.
    """

    mode: RedisMode = RedisMode.STANDALONE
    url: str = field(default="", repr=False)
    nodes: tuple[RedisNode, ...] = ()
    sentinel_master: str = ""
    # The data nodes' ACL user and password (None: the URL's, or none).
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    # The sentinels' own (they are configured apart from the servers they watch).
    sentinel_username: str | None = None
    sentinel_password: str | None = field(default=None, repr=False)
    # None: plain TCP (for STANDALONE, a rediss:// URL turns TLS on by itself).
    tls: RedisTls | None = None


def parse_nodes(text: str) -> tuple[RedisNode, ...]:
    """Parse `host:port[,host:port...]`; raise ValueError saying what is wrong."""
    nodes: list[RedisNode] = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        node = _parse_node(entry)
        if node in nodes:
            raise ValueError(f"{node} appears twice")
        nodes.append(node)
    if not nodes:
        raise ValueError("at least one host:port is required")
    return tuple(nodes)


def _parse_node(entry: str) -> RedisNode:
    if entry.startswith("["):
        host, bracket, rest = entry[1:].partition("]")
        if not bracket or not rest.startswith(":") or not host:
            raise ValueError(f"{entry!r} is not [ipv6]:port")
        raw_port = rest[1:]
    else:
        host, colon, raw_port = entry.rpartition(":")
        if not colon or not _HOST_PATTERN.match(host):
            raise ValueError(f"{entry!r} is not host:port")
    if not _PORT_PATTERN.match(raw_port) or not 1 <= int(raw_port) <= 65535:
        raise ValueError(f"{entry!r}: the port must be 1-65535")
    return RedisNode(host, int(raw_port))
