"""verifier.resources.page_answers: which typed codes are refused before any check, and how
one field tells a TOTP code from a recovery code."""

from __future__ import annotations

import pytest

from verifier.resources.page_answers import MAX_CODE_INPUT, code_problem, split_current_code


@pytest.mark.parametrize("typed", [("",), ("  ",), ("", "")])
def test_no_code_at_all_is_asked_for(typed: tuple[str, ...]) -> None:
    assert code_problem(*typed) == "Enter a code."


@pytest.mark.parametrize("typed", ["1" * (MAX_CODE_INPUT + 1), "123\x00456"])
def test_what_can_never_be_a_code_is_refused(typed: str) -> None:
    assert code_problem(typed) == "That is not a code."


def test_a_plausible_code_goes_on_to_the_check() -> None:
    assert code_problem("123456", "") is None
    assert code_problem("", "abcd-efgh-ijkl-mnop") is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("123456", ("123456", "")),
        (" 123 456 ", ("123456", "")),
        ("abcd-efgh-ijkl-mnop", ("", "abcd-efgh-ijkl-mnop")),
        ("12345", ("", "12345")),
        ("١٢٣٤٥٦", ("", "١٢٣٤٥٦")),  # non-ASCII digits are no TOTP code
    ],
)
def test_one_field_takes_a_totp_code_or_a_recovery_code(
    typed: str, expected: tuple[str, str]
) -> None:
    assert split_current_code(typed) == expected
