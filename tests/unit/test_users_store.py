"""verifier.users.store, pure parts: group names, the stored `groups` field, admin input checks."""

from __future__ import annotations

import pytest

from verifier.users.store import (
    MAX_GROUPS_LENGTH,
    BadUserInput,
    checked_groups,
    normalize_group_name,
    parse_groups,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("admins", "admins"), ("Ops", "ops"), ("  team.a_b+c@x-y ", "team.a_b+c@x-y"), ("0", "0")],
)
def test_group_names_follow_the_user_name_rules(raw: str, expected: str) -> None:
    assert normalize_group_name(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", " ", "a,b", "a b", "a:b", "{ops}", "ops\r\nX-Evil: 1", "ops\x00", "opé", "x" * 65],
)
def test_group_names_that_cannot_travel_in_a_header_are_refused(raw: str) -> None:
    assert normalize_group_name(raw) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ()),
        ("", ()),
        (b"", ()),
        ("ops", ("ops",)),
        (b"ops,admins", ("admins", "ops")),
        ("ops,,admins,", ("admins", "ops")),
        ("Ops,ops, admins ", ("admins", "ops")),
        ("ops,bad group,{x},admins", ("admins", "ops")),
        (b"ops,\xff\xfe,admins", ("admins", "ops")),
    ],
)
def test_stored_groups_are_read_tolerantly(
    raw: bytes | str | None, expected: tuple[str, ...]
) -> None:
    assert parse_groups(raw) == expected


def test_admin_groups_are_normalized_sorted_and_unique() -> None:
    assert checked_groups(["ops", "Admins", "ops", " dev "]) == ("admins", "dev", "ops")
    assert checked_groups([]) == ()


def test_bad_admin_groups_are_all_named_in_one_refusal() -> None:
    with pytest.raises(BadUserInput) as refused:
        checked_groups(["ops", "bad group", "a,b"])

    message = str(refused.value)
    assert "'bad group'" in message
    assert "'a,b'" in message
    assert "'ops'" not in message
    assert "group names are 1-64 characters" in message


def test_group_limit_is_below_nginx_default_header_buffer() -> None:
    assert MAX_GROUPS_LENGTH < 4096 - 1024  # room for the other identity headers and cookies
