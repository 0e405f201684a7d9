"""LDAP filter values escaped (RFC 4515) and templates filled without str.format."""

from __future__ import annotations

import uuid

import pytest

from verifier.users.sources.ldap_source import escape_bytes, escape_value, filter_with, now_filetime


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("alice", "alice"),
        ("*", "\\2a"),
        ("alice)(uid=*", "alice\\29\\28uid=\\2a"),
        ("*)(|(uid=*", "\\2a\\29\\28|\\28uid=\\2a"),
        ("back\\slash", "back\\5cslash"),
        ("nul\x00", "nul\\00"),
        # Non-ASCII stays as UTF-8 text, which the server matches: jürgen is found as himself.
        ("jürgen", "jürgen"),
    ],
)
def test_filter_values_escape_every_special_character(raw: str, escaped: str) -> None:
    assert escape_value(raw) == escaped


def test_a_template_takes_only_its_placeholders() -> None:
    template = "(&(uid={username})(memberOf={dn})(other={braces}))"
    filled = filter_with(template, username=escape_value("a*"), dn=escape_value("cn=x,dc=y"))
    assert filled == "(&(uid=a\\2a)(memberOf=cn=x,dc=y)(other={braces}))"


def test_binary_values_are_escaped_byte_by_byte() -> None:
    guid = uuid.UUID("00112233-4455-6677-8899-aabbccddeeff")
    assert escape_bytes(guid.bytes_le) == (
        "\\33\\22\\11\\00\\55\\44\\77\\66\\88\\99\\aa\\bb\\cc\\dd\\ee\\ff"
    )


def test_active_directory_time_counts_100ns_ticks_since_1601() -> None:
    assert now_filetime(0) == "116444736000000000"
    assert now_filetime(1.5) == "116444736015000000"
