"""How a user signed in: the `amr` values (RFC 8176) the session and access token carry.

One vocabulary for the sign-in flow (which records them), the tokens (which carry them) and
the access rules (which ask for `mfa`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

PASSWORD: Final = "pwd"  # noqa: S105 (the amr value, not a password)
# A TOTP code (RFC 8176 "otp": a one-time password).
TOTP: Final = "otp"
# A recovery code: one-time too, but kept apart so rules and audits can tell it from TOTP.
RECOVERY_CODE: Final = "rcv"
# A passkey: proof of possession of a key held by an authenticator (RFC 8176 "hwk").
PASSKEY: Final = "hwk"
# The authenticator verified the user (PIN or biometric) for that passkey (RFC 8176 "user"
# is presence only; "pin" is the nearest standard value for verification).
USER_VERIFIED: Final = "pin"

KNOWN_METHODS: Final = frozenset({PASSWORD, TOTP, RECOVERY_CODE, PASSKEY, USER_VERIFIED})
_SECOND_FACTORS: Final = frozenset({TOTP, RECOVERY_CODE, PASSKEY})


def checked_amr(amr: Iterable[str]) -> tuple[str, ...]:
    """The methods in order without repeats; raise ValueError for none or an unknown one."""
    methods = tuple(dict.fromkeys(amr))
    if not methods or not KNOWN_METHODS.issuperset(methods):
        raise ValueError(f"amr must be one or more of {sorted(KNOWN_METHODS)}: {methods!r}")
    return methods


def is_multi_factor(amr: Iterable[str]) -> bool:
    """True when the sign-in used two factors.

    A password plus any second factor, or a passkey whose authenticator verified the user
    (possession plus PIN or biometric, as passkey sign-in without a password requires).
    """
    methods = frozenset(amr)
    if PASSKEY in methods and USER_VERIFIED in methods:
        return True
    return PASSWORD in methods and not methods.isdisjoint(_SECOND_FACTORS)


@dataclass(frozen=True, slots=True)
class SignIn:
    """How a session's user signed in (`amr` values, in order) and when (`auth_time`, epoch
    seconds): what the session records, the access token and the assertion carry, and the
    `mfa` / `max_age` terms ask about."""

    amr: tuple[str, ...]
    auth_time: int
