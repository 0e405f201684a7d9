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
# The user signed in at an OpenID Provider, which told us only that it vouches for them: how
# is its business (RFC 8176 registers no value for this; "fed" is ours). One factor, as far
# as our rules know, unless the provider is trusted for a second one (below).
FEDERATED: Final = "fed"
# A provider trusted for second factors said its sign-in took several (RFC 8176 "mfa"): the
# id_token's `amr` or `acr` carried a value the sources file allows for that provider.
MULTI_FACTOR: Final = "mfa"

KNOWN_METHODS: Final = frozenset(
    {PASSWORD, TOTP, RECOVERY_CODE, PASSKEY, USER_VERIFIED, FEDERATED, MULTI_FACTOR}
)
_SECOND_FACTORS: Final = frozenset({TOTP, RECOVERY_CODE, PASSKEY})
# What a first factor can be: a password (ours or the directory's) or a provider's sign-in.
_FIRST_FACTORS: Final = frozenset({PASSWORD, FEDERATED})

# Where a user comes from when it is not an upstream source: the verifier's own user store.
LOCAL_SOURCE: Final = "local"


def checked_amr(amr: Iterable[str]) -> tuple[str, ...]:
    """The methods in order without repeats; raise ValueError for none or an unknown one."""
    methods = tuple(dict.fromkeys(amr))
    if not methods or not KNOWN_METHODS.issuperset(methods):
        raise ValueError(f"amr must be one or more of {sorted(KNOWN_METHODS)}: {methods!r}")
    return methods


def is_multi_factor(amr: Iterable[str]) -> bool:
    """True when the sign-in used two factors.

    A password (or a provider's sign-in) plus any second factor of ours; a passkey whose
    authenticator verified the user (possession plus PIN or biometric, as passkey sign-in
    without a password requires); or a provider trusted for it that said it used several.
    """
    methods = frozenset(amr)
    if MULTI_FACTOR in methods:
        return True
    if PASSKEY in methods and USER_VERIFIED in methods:
        return True
    return not methods.isdisjoint(_FIRST_FACTORS) and not methods.isdisjoint(_SECOND_FACTORS)


@dataclass(frozen=True, slots=True)
class SignIn:
    """How a session's user signed in (`amr` values, in order), when (`auth_time`, epoch
    seconds) and through which source (`local`, or an upstream's id such as `ldap:corp`):
    what the session records, the access token and the assertion carry, and the `mfa` /
    `max_age` terms ask about."""

    amr: tuple[str, ...]
    auth_time: int
    source: str = LOCAL_SOURCE

    @property
    def upstream(self) -> bool:
        """True when an upstream source (LDAP, an OpenID Provider) vouched for the user."""
        return self.source != LOCAL_SOURCE
