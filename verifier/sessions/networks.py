"""A coarse name for the network a session's address is in, where one is known here.

Known means known to this machine: the networks the operator named (VERIFIER_NETWORK_NAMES,
"10.8.0.0/16=Office VPN") and the address ranges that are never on the internet. Nothing is
ever looked up elsewhere (no GeoIP, no WHOIS): the account page only helps a user tell
"the office" from "somewhere else". Display only, never used for a decision.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class NetworkKind(Enum):
    """Where an address is, coarsely."""

    NAMED = "named"  # in a network the operator named
    LOOPBACK = "loopback"  # the server's own machine
    PRIVATE = "private"  # a private or link-local range: a LAN, a VPN, a container network


@dataclass(frozen=True, slots=True)
class NetworkLabel:
    """The kind of network, and the operator's name for it (NAMED only)."""

    kind: NetworkKind
    name: str = ""


class NetworkNames:
    """Labels addresses: the operator's networks first (first match wins), then the ranges
    every machine knows."""

    def __init__(self, named: Sequence[tuple[IPNetwork, str]] = ()) -> None:
        self._named = tuple(named)

    def label(self, address: str) -> NetworkLabel | None:
        """The label of an address as the session recorded it; None for a public or bad one."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        for network, name in self._named:
            if ip.version == network.version and ip in network:
                return NetworkLabel(NetworkKind.NAMED, name)
        if ip.is_loopback:
            return NetworkLabel(NetworkKind.LOOPBACK)
        if ip.is_private or ip.is_link_local:
            return NetworkLabel(NetworkKind.PRIVATE)
        return None
