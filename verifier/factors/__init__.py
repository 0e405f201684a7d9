"""Second factors: TOTP today; passkeys and recovery codes build on the same shape."""

from verifier.factors.totp import (
    ACCEPTED_SKEW_STEPS,
    STEP_SECONDS,
    TotpCodes,
    matching_step,
    new_secret,
    provisioning_uri,
    qr_code_svg,
)

__all__ = [
    "ACCEPTED_SKEW_STEPS",
    "STEP_SECONDS",
    "TotpCodes",
    "matching_step",
    "new_secret",
    "provisioning_uri",
    "qr_code_svg",
]
