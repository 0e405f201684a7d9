"""The coarse network label of a session's address: the operator's names first, then the
ranges every machine knows; never a lookup, nothing for a public or malformed address."""

from __future__ import annotations

import ipaddress

import pytest

from verifier.sessions.networks import NetworkKind, NetworkLabel, NetworkNames

NAMES = NetworkNames(
    [
        (ipaddress.ip_network("10.8.0.0/16"), "Office VPN"),
        (ipaddress.ip_network("10.0.0.0/8"), "Company network"),
        (ipaddress.ip_network("2001:db8:1::/48"), "Munich office"),
    ]
)


@pytest.mark.parametrize(
    ("address", "label"),
    [
        ("10.8.3.4", NetworkLabel(NetworkKind.NAMED, "Office VPN")),
        ("10.9.0.1", NetworkLabel(NetworkKind.NAMED, "Company network")),
        ("::ffff:10.8.0.9", NetworkLabel(NetworkKind.NAMED, "Office VPN")),
        ("2001:db8:1::7", NetworkLabel(NetworkKind.NAMED, "Munich office")),
        ("127.0.0.1", NetworkLabel(NetworkKind.LOOPBACK)),
        ("::1", NetworkLabel(NetworkKind.LOOPBACK)),
        ("192.168.1.20", NetworkLabel(NetworkKind.PRIVATE)),
        ("172.16.5.5", NetworkLabel(NetworkKind.PRIVATE)),
        ("fd00::5", NetworkLabel(NetworkKind.PRIVATE)),
        ("169.254.1.1", NetworkLabel(NetworkKind.PRIVATE)),
        ("8.8.8.8", None),
        ("2a00:1450::1", None),
        ("not an address", None),
        ("", None),
    ],
)
def test_addresses_get_the_first_matching_name_or_a_known_range(
    address: str, label: NetworkLabel | None
) -> None:
    assert NAMES.label(address) == label


def test_without_names_only_the_known_ranges_are_labelled() -> None:
    assert NetworkNames().label("10.8.3.4") == NetworkLabel(NetworkKind.PRIVATE)
