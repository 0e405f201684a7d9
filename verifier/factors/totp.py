"""TOTP (RFC 6238) with pyotp: secrets, the enrolment QR code, and one-time use of each code.

A code is accepted within one time step of skew either way, and each time step once per
user: the step a code matched is claimed in Redis (SET NX), so a replayed code, even inside
its 90 s of validity, is refused. The clock is injected, so tests drive the steps.
"""

from __future__ import annotations

import hmac

import pyotp
import segno

from verifier.i18n import _
from verifier.store import RedisClient
from verifier.store.keyspace import KeySpace
from verifier.store.outages import guard_for

# Every Redis call of this module, timed under its name (verifier_redis_call_*).
_guard = guard_for("totp")

# RFC 6238's defaults, which every authenticator app expects.
STEP_SECONDS = 30
DIGITS = 6
# One step either way: a phone clock 30 s off still works; more would widen the guessing
# window for nothing.
ACCEPTED_SKEW_STEPS = 1
# A claimed step must outlive every moment it could still be accepted.
_CLAIM_SECONDS = (2 * ACCEPTED_SKEW_STEPS + 1) * STEP_SECONDS + STEP_SECONDS


def new_secret() -> str:
    """A new base32 secret of 160 bits (RFC 4226's recommended length), from the OS CSPRNG."""
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The `otpauth://` URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=issuer
    )


def qr_code_svg(uri: str) -> str:
    """The URI as an inline SVG QR code, drawn on the server: no script, no external file."""
    code = segno.make(uri, error="m")
    # Its title is its accessible name (and a tooltip): in the reader's language.
    svg: str = code.svg_inline(scale=4, title=_("Scan with your authenticator app"))
    return svg


def matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step whose code `code` is, within the accepted skew, or None."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    generator = pyotp.HOTP(secret, digits=DIGITS)
    current = int(now // STEP_SECONDS)
    matched = None
    # Every candidate is compared, in constant time each, so timing does not tell which
    # step (if any) the code belongs to.
    for step in range(current - ACCEPTED_SKEW_STEPS, current + ACCEPTED_SKEW_STEPS + 1):
        if hmac.compare_digest(generator.at(step), code) and matched is None:
            matched = step
    return matched


class TotpCodes:
    """Checks TOTP codes and makes each usable once per user (the claims live in Redis)."""

    def __init__(self, client: RedisClient, keys: KeySpace) -> None:
        self._redis = client
        self._keys = keys

    async def accept(self, user: str, secret: str, code: str, now: float) -> bool:
        """True once for a right code; False for a wrong one or a step already used."""
        step = matching_step(secret, code, now)
        if step is None:
            return False
        claimed = await _guard(
            self._redis.set(self._keys.totp_step(user, step), "1", nx=True, ex=_CLAIM_SECONDS)
        )
        return bool(claimed)
