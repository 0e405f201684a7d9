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
