"""The amr vocabulary: which sign-ins count as multi-factor."""

import pytest

from verifier.factors.methods import (
    PASSKEY,
    PASSWORD,
    RECOVERY_CODE,
    TOTP,
    USER_VERIFIED,
    checked_amr,
    is_multi_factor,
)


@pytest.mark.parametrize(
    "amr",
    [
        (PASSWORD, TOTP),
        (PASSWORD, RECOVERY_CODE),
        (PASSWORD, PASSKEY),
        (PASSKEY, USER_VERIFIED),
    ],
)
def test_two_factors_count_as_multi_factor(amr: tuple[str, ...]) -> None:
    assert is_multi_factor(amr)


@pytest.mark.parametrize(
    "amr",
    [(), (PASSWORD,), (TOTP,), (RECOVERY_CODE,), (PASSKEY,), (USER_VERIFIED,), (TOTP, PASSKEY)],
)
def test_one_factor_alone_is_not_multi_factor(amr: tuple[str, ...]) -> None:
    assert not is_multi_factor(amr)


def test_checked_amr_keeps_the_order_and_drops_repeats() -> None:
    assert checked_amr([PASSWORD, TOTP, PASSWORD]) == (PASSWORD, TOTP)


@pytest.mark.parametrize("amr", [[], ["sms"], [PASSWORD, "PWD"], [""]])
def test_checked_amr_refuses_none_or_an_unknown_method(amr: list[str]) -> None:
    with pytest.raises(ValueError, match="amr must be one or more of"):
        checked_amr(amr)
