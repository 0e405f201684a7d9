"""verifier.access.conditions: the `mfa` / `max_age=N` terms and what a session lacks."""

from __future__ import annotations

import re

import pytest

from verifier.access.conditions import (
    MAX_AGE_LIMIT_MINUTES,
    MFA_ONLY,
    NO_CONDITIONS,
    SignInConditions,
    split_terms,
)
from verifier.errors import AccessConfigError
from verifier.factors.methods import SignIn

NOW = 1_700_000_000
PASSWORD_NOW = SignIn(("pwd",), NOW)
TWO_FACTORS_NOW = SignIn(("pwd", "otp"), NOW)


def test_mfa_and_max_age_are_taken_out_and_the_rest_left_for_subjects() -> None:
    conditions, rest = split_terms(["group:admins", "mfa", "max_age=15", "user:alice"])
    assert conditions == SignInConditions(mfa=True, max_age_minutes=15)
    assert rest == ["group:admins", "user:alice"]


def test_no_condition_terms_ask_nothing() -> None:
    conditions, rest = split_terms(["group:admins"])
    assert conditions == NO_CONDITIONS
    assert not conditions.any
    assert rest == ["group:admins"]


@pytest.mark.parametrize(
    "term",
    ["max_age=0", "max_age=", "max_age=x", "max_age=-5", "max_age=+5", "max_age=1.5",
     f"max_age={MAX_AGE_LIMIT_MINUTES + 1}", "max_age=٣", "max_age=99999999"],
)  # fmt: skip
def test_a_bad_max_age_is_refused_naming_the_term(term: str) -> None:
    with pytest.raises(AccessConfigError, match=re.escape(f"'{term}': max_age is a whole number")):
        split_terms([term])


def test_max_age_given_twice_is_refused() -> None:
    with pytest.raises(AccessConfigError, match="given twice"):
        split_terms(["max_age=5", "max_age=10"])


def test_the_limits_of_max_age_are_accepted() -> None:
    assert split_terms(["max_age=1"])[0].max_age_minutes == 1
    limit = f"max_age={MAX_AGE_LIMIT_MINUTES}"
    assert split_terms([limit])[0].max_age_minutes == MAX_AGE_LIMIT_MINUTES


def test_mfa_needs_two_factors() -> None:
    assert MFA_ONLY.missing(PASSWORD_NOW, NOW) == "mfa"
    assert MFA_ONLY.missing(SignIn(("pwd", "rcv"), NOW), NOW) is None
    assert MFA_ONLY.missing(SignIn(("hwk", "pin"), NOW), NOW) is None
    assert MFA_ONLY.missing(TWO_FACTORS_NOW, NOW) is None


def test_max_age_holds_up_to_its_last_second() -> None:
    ten_minutes = SignInConditions(max_age_minutes=10)
    signed_in = SignIn(("pwd",), NOW - 600)
    assert ten_minutes.missing(signed_in, NOW) is None
    assert ten_minutes.missing(signed_in, NOW + 1) == "max_age"


def test_mfa_is_named_first_when_both_are_missing() -> None:
    # The second factor's sign-in is a fresh one too: one step satisfies both.
    both = SignInConditions(mfa=True, max_age_minutes=1)
    assert both.missing(SignIn(("pwd",), NOW - 3600), NOW) == "mfa"
    assert both.missing(SignIn(("pwd", "otp"), NOW - 3600), NOW) == "max_age"


def test_an_unknown_sign_in_meets_no_condition() -> None:
    assert MFA_ONLY.missing(None, NOW) == "mfa"
    assert SignInConditions(max_age_minutes=5).missing(None, NOW) == "max_age"
    assert NO_CONDITIONS.missing(None, NOW) is None


def test_combined_conditions_ask_the_most_of_both() -> None:
    location = SignInConditions(max_age_minutes=30)
    rule = SignInConditions(mfa=True, max_age_minutes=10)
    assert location.combined(rule) == SignInConditions(mfa=True, max_age_minutes=10)
    assert rule.combined(location) == SignInConditions(mfa=True, max_age_minutes=10)
    assert location.combined(NO_CONDITIONS) is location
    assert NO_CONDITIONS.combined(MFA_ONLY) is MFA_ONLY
    assert MFA_ONLY.combined(location) == SignInConditions(mfa=True, max_age_minutes=30)


def test_conditions_are_described_as_written() -> None:
    assert SignInConditions(mfa=True, max_age_minutes=10).describe() == "mfa max_age=10"
    assert NO_CONDITIONS.describe() == ""


@pytest.mark.parametrize("value", [0, -1, True, "10", 1.5, None, MAX_AGE_LIMIT_MINUTES + 1])
def test_checked_max_age_refuses_anything_but_a_sane_whole_number(value: object) -> None:
    with pytest.raises(AccessConfigError):
        SignInConditions.checked_max_age(value)


def test_two_conditions_without_an_age_combine_to_mfa_alone() -> None:
    assert MFA_ONLY.combined(SignInConditions(mfa=True)) == MFA_ONLY


def test_max_age_alone_asks_for_no_second_factor() -> None:
    assert split_terms(["max_age=10"]) == (SignInConditions(False, 10), [])


def test_max_age_is_read_up_to_seven_digits_leading_zeros_included() -> None:
    assert split_terms(["max_age=0000010"])[0].max_age_minutes == 10
    with pytest.raises(AccessConfigError, match="max_age=00000010"):
        split_terms(["max_age=00000010"])
