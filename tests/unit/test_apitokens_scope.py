"""verifier.apitokens.scope: terms parsed strictly; a scope only ever narrows."""

from __future__ import annotations

import pytest

from verifier.apitokens.inputs import BadTokenInput
from verifier.apitokens.scope import MAX_PATH_LENGTH, MAX_TERMS, Scope


def test_terms_are_read_from_separate_and_space_joined_strings_into_one_canonical_form() -> None:
    scope = Scope.parse(["path:/api/ group:Deployers", "group:ops", "path:/api/", ""])
    assert scope == Scope(groups=("deployers", "ops"), paths=("/api/",))
    assert str(scope) == "group:deployers group:ops path:/api/"
    assert Scope.stored(str(scope)) == scope


def test_no_term_is_every_group_and_every_path_of_the_owner() -> None:
    scope = Scope.parse([])
    assert str(scope) == ""
    assert not scope.narrows
    assert scope.describe() == "everything its owner may"
    assert scope.groups_for(("a", "b")) == ("a", "b")
    assert scope.allows_path("/anything/at/all")


def test_group_terms_keep_only_those_of_the_owners_groups() -> None:
    scope = Scope.parse(["group:deployers", "group:admins"])
    assert scope.groups_for(("admins", "deployers", "ops")) == ("admins", "deployers")
    # A group the owner no longer has, the token no longer carries.
    assert scope.groups_for(("ops",)) == ()


@pytest.mark.parametrize(
    ("prefix", "path", "inside"),
    [
        ("/api/", "/api/", True),
        ("/api/", "/api", True),
        ("/api/", "/api/v1/x", True),
        ("/api/", "/apix", False),
        ("/api/", "/admin/", False),
        ("/api", "/api/x", True),
        ("/api", "/apix", False),
        ("/", "/anything", True),
    ],
)
def test_path_terms_match_whole_segments(prefix: str, path: str, inside: bool) -> None:
    assert Scope.parse([f"path:{prefix}"]).allows_path(path) is inside


def test_a_request_inside_any_one_of_several_paths_is_allowed() -> None:
    scope = Scope.parse(["path:/api/", "path:/reports/"])
    assert scope.allows_path("/reports/q3")
    assert not scope.allows_path("/admin/")


@pytest.mark.parametrize(
    "term",
    [
        "api",
        "groups:ops",
        "user:alice",
        "group:",
        "group:bad{name}",
        "group:" + "x" * 65,
        "path:",
        "path:api/",
        "path:/api/../admin/",
        "path://api/",
        "path:/api/%2e%2e/",
        "path:/a/./b",
        "path:/" + "x" * MAX_PATH_LENGTH,
        "path:/api/\x00",
    ],
)
def test_every_bad_term_is_refused_by_name(term: str) -> None:
    with pytest.raises(BadTokenInput) as refused:
        Scope.parse([term])
    assert repr(term) in str(refused.value)


def test_too_many_terms_are_refused() -> None:
    with pytest.raises(BadTokenInput):
        Scope.parse([f"group:g{number}" for number in range(MAX_TERMS + 1)])


def test_a_stored_scope_must_be_canonical() -> None:
    with pytest.raises(BadTokenInput):
        Scope.stored("path:/api/ group:ops")  # out of order: not what the store writes
    with pytest.raises(BadTokenInput):
        Scope.stored("group:ops  path:/api/")
