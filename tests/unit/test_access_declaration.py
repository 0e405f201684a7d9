"""Location declarations (`$verifier_require`): parsing and the per-worker cache."""

from __future__ import annotations

import re

import pytest

from verifier.access.conditions import SignInConditions
from verifier.access.declaration import DeclarationCache, LocationDeclaration
from verifier.errors import AccessConfigError


@pytest.mark.parametrize("text", ["", "   ", ",", " , "])
def test_an_empty_declaration_admits_every_signed_in_user(text: str) -> None:
    assert LocationDeclaration.parse(text).subjects.anyone


@pytest.mark.parametrize(
    "text", ["group:admins user:alice", "group:admins,user:alice", " group:admins ,\tuser:alice "]
)
def test_terms_are_separated_by_spaces_or_commas(text: str) -> None:
    subjects = LocationDeclaration.parse(text).subjects
    assert subjects.users == {"alice"}
    assert subjects.groups == {"admins"}


def test_an_unknown_term_is_refused_naming_the_declaration() -> None:
    with pytest.raises(AccessConfigError, match=r"'group:admins otp'.*'otp' is not a subject"):
        LocationDeclaration.parse("group:admins otp")


def test_an_oversized_declaration_is_refused() -> None:
    with pytest.raises(AccessConfigError, match="longer than"):
        LocationDeclaration.parse("group:a " * 400)


def test_the_cache_returns_the_same_parse_and_remembers_refusals() -> None:
    cache = DeclarationCache()
    assert cache.get("group:admins") is cache.get("group:admins")
    for _ in range(2):
        with pytest.raises(AccessConfigError):
            cache.get("oops")


def test_mfa_and_max_age_are_conditions_beside_the_subjects() -> None:
    declaration = LocationDeclaration.parse("group:admins, mfa max_age=15")
    assert declaration.subjects.groups == {"admins"}
    assert declaration.conditions == SignInConditions(mfa=True, max_age_minutes=15)


def test_conditions_alone_leave_every_signed_in_user_a_subject() -> None:
    declaration = LocationDeclaration.parse("mfa")
    assert declaration.subjects.anyone
    assert declaration.conditions.mfa


@pytest.mark.parametrize("text", ["mfa max_age=0", "max_age=soon", "group:admins max_age"])
def test_a_bad_condition_is_refused_naming_the_declaration(text: str) -> None:
    with pytest.raises(AccessConfigError, match=re.escape(f"$verifier_require {text!r}")):
        LocationDeclaration.parse(text)


def test_a_declaration_at_the_length_limit_is_read_and_kept_as_written() -> None:
    text = "group:admins user:" + "a" * 40
    declared = LocationDeclaration.parse(text)
    assert declared.text == text
    padded = text + " " * (2048 - len(text))
    assert LocationDeclaration.parse(padded).subjects == declared.subjects
    with pytest.raises(AccessConfigError, match=r"^\$verifier_require is longer than 2048 "):
        LocationDeclaration.parse(padded + " ")
