"""The amr vocabulary: which sign-ins count as multi-factor."""

import pytest

from verifier.factors.methods import (
    PASSKEY,
    PASSWORD,
    RECOVERY_CODE,
    TOTP,
    USER_VERIFIED,
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
