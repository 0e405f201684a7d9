"""Subjects: who a declaration or rule is about."""

from __future__ import annotations

import pytest

from verifier.access import Subjects
from verifier.errors import AccessConfigError


def test_no_subject_means_every_signed_in_user() -> None:
    subjects = Subjects.parse([])
    assert subjects.anyone
    assert subjects.matches("anyone", ())
    assert subjects.describe() == "any signed-in user"


def test_a_named_user_matches_only_that_user() -> None:
    subjects = Subjects.parse(["user:alice"])
    assert subjects.matches("alice", ())
    assert not subjects.matches("bob", ("alice",))


def test_a_group_matches_its_members_only() -> None:
    subjects = Subjects.parse(["group:admins"])
    assert subjects.matches("bob", ("ops", "admins"))
    assert not subjects.matches("admins", ())
    assert not subjects.matches("bob", ("ops",))


def test_several_subjects_match_any_of_them() -> None:
    subjects = Subjects.parse(["group:admins", "user:alice"])
    assert subjects.matches("alice", ())
    assert subjects.matches("bob", ("admins",))
    assert not subjects.matches("carol", ("ops",))
    assert subjects.describe() == "user:alice group:admins"


@pytest.mark.parametrize(
    "term",
    ["admins", "role:x", "group:", "group:Admins", "user:a b", "group:a{b}", "user:" + "x" * 65],
)
def test_anything_but_user_or_group_with_a_valid_name_is_refused(term: str) -> None:
    with pytest.raises(AccessConfigError, match=r"user:NAME|names are"):
        Subjects.parse([term])


def test_a_name_with_a_colon_is_refused_as_a_bad_name_of_that_kind() -> None:
    # The kind is what comes before the first colon; the rest is the name.
    with pytest.raises(AccessConfigError) as raised:
        Subjects.parse(["user:a:b"])
    assert str(raised.value) == (
        "'user:a:b': names are 1-64 characters of a-z, 0-9, '.', '_', '@', '+', '-'"
    )
