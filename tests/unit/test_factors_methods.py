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


@pytest.mark.parametrize(
    ("amr", "multi"),
    [
        (("fed",), False),  # a provider's sign-in, nothing said of how: one factor
        (("fed", "otp"), True),  # ...and our TOTP on top
        (("fed", "hwk"), True),  # ...or one of our passkeys
        (("fed", "mfa"), True),  # a provider trusted for it said it used several
        (("mfa",), True),
        (("pwd", "fed"), False),  # two first factors are still one kind of proof
    ],
)
def test_a_providers_sign_in_counts_as_the_first_factor(amr: tuple[str, ...], multi: bool) -> None:
    assert is_multi_factor(amr) is multi
