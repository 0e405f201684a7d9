"""Names and groups from an upstream source: made ours, or refused, never bent."""

from __future__ import annotations

import pytest

from verifier.upstream.mapping import GroupMapping, NameRefused, our_name


@pytest.mark.parametrize(
    ("raw", "name"), [("alice", "alice"), ("Carol", "carol"), ("a.b@c", "a.b@c")]
)
def test_a_name_that_fits_our_rules_is_ours_in_lower_case(raw: str, name: str) -> None:
    assert our_name("ldap:corp", raw) == name


@pytest.mark.parametrize("raw", ["jürgen", "Jürgen", "ann smith", " alice", "", "a" * 65, "al{ce"])
def test_a_name_that_does_not_fit_is_refused_never_transliterated(raw: str) -> None:
    with pytest.raises(NameRefused) as refused:
        our_name("ldap:corp", raw)
    assert refused.value.raw == raw
    assert "not a valid user name here" in str(refused.value)
    assert "verifier users link" in str(refused.value)


def test_only_mapped_groups_become_ours_compared_without_case() -> None:
    mapping = GroupMapping(table=(("domain admins", "admins"), ("vpn users", "staff")))

    mapped = mapping.ours(["Domain Admins", "VPN USERS", "admins", "Printers"])

    # An upstream group named "admins" is not our admins: only the table says what is.
    assert mapped.groups == ("admins", "staff")
    assert mapped.dropped == ()


def test_a_prefix_admits_every_other_group_under_its_own_names() -> None:
    mapping = GroupMapping(table=(("staff", "staff"),), prefix="corp-")

    mapped = mapping.ours(["Staff", "admins", "Release Managers", "engineers", "jürgen-fans"])

    assert mapped.groups == ("corp-admins", "corp-engineers", "staff")
    # Names that would not fit are dropped (and said so by the caller), never bent.
    assert mapped.dropped == ("Release Managers", "jürgen-fans")


def test_no_table_and_no_prefix_admit_nothing() -> None:
    assert GroupMapping().ours(["admins", "staff"]).groups == ()
