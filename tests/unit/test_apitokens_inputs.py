"""verifier.apitokens.inputs: a token's name and lifetime as typed."""

from __future__ import annotations

import pytest

from verifier.apitokens.inputs import BadTokenInput, lifetime_seconds, token_name


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("90d", 90 * 86_400), ("1h", 3600), ("12h", 43_200), ("2w", 14 * 86_400), (" 7d ", 604_800)],
)
def test_lifetimes_are_hours_days_or_weeks(raw: str, seconds: int) -> None:
    assert lifetime_seconds(raw, max_days=365) == seconds


@pytest.mark.parametrize(
    "raw", ["", "90", "d", "0d", "0h", "-1d", "1.5d", "30m", "1y", "never", "90D", "1d2h", "09d"]
)
def test_anything_else_is_not_a_lifetime(raw: str) -> None:
    with pytest.raises(BadTokenInput):
        lifetime_seconds(raw, max_days=365)


def test_a_lifetime_past_the_configured_maximum_is_refused() -> None:
    assert lifetime_seconds("30d", max_days=30) == 30 * 86_400
    with pytest.raises(BadTokenInput) as refused:
        lifetime_seconds("31d", max_days=30)
    assert "30d" in str(refused.value)
    with pytest.raises(BadTokenInput):
        lifetime_seconds("5w", max_days=30)


def test_names_are_trimmed_and_their_spaces_squeezed() -> None:
    assert token_name("  ci   deploy ") == "ci deploy"


@pytest.mark.parametrize("raw", ["", "   ", "x" * 65, "ci\x00deploy", "bell\x07"])
def test_empty_long_or_unprintable_names_are_refused(raw: str) -> None:
    with pytest.raises(BadTokenInput):
        token_name(raw)
