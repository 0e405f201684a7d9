"""Recovery codes: their shape, and the forgiving reading of what people type."""

from __future__ import annotations

import re

import pytest

from verifier.factors import CODES_PER_SET, new_codes
from verifier.factors.recovery import normalized

SHAPE = re.compile(r"[a-z2-7]{4}(-[a-z2-7]{4}){3}")


def test_a_set_has_ten_distinct_codes_of_80_bits() -> None:
    codes = new_codes()
    assert len(codes) == len(set(codes)) == CODES_PER_SET
    assert all(SHAPE.fullmatch(code) for code in codes)
    assert set(codes).isdisjoint(new_codes())


def test_the_four_groups_are_sixteen_characters_in_turn_not_overlapping_windows() -> None:
    # Four overlapping windows of one string (abcd-bcde-cdef-defg) fit the shape with only
    # seven characters of chance; each group is a chance of its own in at least one code of
    # a hundred (a code whose groups happen to overlap so is 1 in 32,768).
    codes = new_codes(100)
    assert any(code[1:4] != code[5:8] for code in codes)


@pytest.mark.parametrize(
    "typed",
    ["abcd-efgh-ijkl-mnop", "ABCD-EFGH-IJKL-MNOP", " abcd efgh ijkl mnop ", "abcdefghijklmnop"],
)
def test_case_spaces_and_dashes_are_forgiven(typed: str) -> None:
    assert normalized(typed) == "abcd-efgh-ijkl-mnop"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "abcd-efgh-ijkl-mno",
        "abcd-efgh-ijkl-mnopq",
        "abcd-efgh-ijkl-mno1",
        "abcd-efgh-ijkl-mnø0",
    ],
)
def test_anything_else_is_no_code(typed: str) -> None:
    assert normalized(typed) is None
