"""Second factors: TOTP and recovery codes today; passkeys build on the same shape."""

from verifier.factors.recovery import CODES_PER_SET, RecoveryCodes, new_codes
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
    "CODES_PER_SET",
    "STEP_SECONDS",
    "RecoveryCodes",
    "TotpCodes",
    "matching_step",
    "new_codes",
    "new_secret",
    "provisioning_uri",
    "qr_code_svg",
]
