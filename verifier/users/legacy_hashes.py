"""Password hashes imported from htpasswd files (bcrypt, Apache apr1, {SHA}): recognised, checked.

These are kept only until the user's first successful sign-in, which replaces them with
argon2id (UserStore.authenticate). The schemes themselves come from maintained libraries:
`bcrypt` (pyca) and `libpass` (the maintained fork of passlib, imported as `passlib`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import bcrypt
from passlib.hash import apr_md5_crypt, ldap_sha1

# Exactly what htpasswd and the bcrypt library write: `$2y$`/`$2b$`/`$2a$`, a two-digit cost,
# 22 characters of salt and 31 of digest in bcrypt's base64 alphabet.
BCRYPT_PATTERN = re.compile(r"\$2[aby]\$(?P<cost>[0-9]{2})\$[./A-Za-z0-9]{53}")
# Apache's MD5 variant: `$apr1$`, a salt of up to 8 characters, a 22-character digest.
APR1_PATTERN = re.compile(r"\$apr1\$[./0-9A-Za-z]{1,8}\$[./0-9A-Za-z]{22}")
# `{SHA}` and the base64 of an unsalted SHA-1 digest (20 bytes: 27 characters and one '=').
SHA1_PATTERN = re.compile(r"\{SHA\}[A-Za-z0-9+/]{27}=")

MIN_BCRYPT_COST = 4
# Every failed sign-in pays the cost of the costliest imported bcrypt hash still waiting for
# its first sign-in (see passwords.py), so the cost is capped: 12 takes ~240 ms here.
MAX_BCRYPT_COST = 12
# bcrypt reads only this many bytes of a password; htpasswd's own bcrypt truncated longer
# ones silently, so the old password is checked the same way (argon2 later reads it whole).
BCRYPT_MAX_PASSWORD_BYTES = 72

_DUMMY_PASSWORD = "verifier-dummy-password"  # noqa: S105 (matches no account)


class LegacyScheme(StrEnum):
    """The htpasswd schemes the verifier can check."""

    BCRYPT = "bcrypt"
    APR1 = "apr1"
    SHA1 = "sha1"


def legacy_scheme(stored_hash: str) -> LegacyScheme | None:
    """The scheme of a well-formed imported hash, or None (argon2, malformed, anything else)."""
    match = BCRYPT_PATTERN.fullmatch(stored_hash)
    if match is not None:
        # A costlier hash cannot come from an import: never spend hours checking one.
        cost = int(match["cost"])
        return LegacyScheme.BCRYPT if MIN_BCRYPT_COST <= cost <= MAX_BCRYPT_COST else None
    if APR1_PATTERN.fullmatch(stored_hash):
        return LegacyScheme.APR1
    if SHA1_PATTERN.fullmatch(stored_hash):
        return LegacyScheme.SHA1
    return None


def bcrypt_cost(stored_hash: str) -> int | None:
    """The cost factor of a well-formed bcrypt hash, else None."""
    match = BCRYPT_PATTERN.fullmatch(stored_hash)
    return int(match["cost"]) if match is not None else None


def verify_legacy(scheme: LegacyScheme, stored_hash: str, password: str) -> bool:
    """True if the password matches the hash; False, never an exception, for a malformed one."""
    try:
        if scheme is LegacyScheme.BCRYPT:
            secret = password.encode("utf-8")[:BCRYPT_MAX_PASSWORD_BYTES]
            return bcrypt.checkpw(secret, stored_hash.encode("ascii"))
        if scheme is LegacyScheme.APR1:
            return bool(apr_md5_crypt.verify(password, stored_hash))
        return bool(ldap_sha1.verify(password, stored_hash))
    except (ValueError, TypeError, UnicodeError):
        return False


@dataclass(frozen=True)
class LegacyDummies:
    """Well-formed hashes of a password nobody has, to spend a scheme's time and fail."""

    bcrypt_tail: str  # salt and digest of a bcrypt hash: any cost can be put in front
    apr1: str
    sha1: str

    @classmethod
    def make(cls) -> LegacyDummies:
        """Hash the dummy password once per scheme (about 2 ms in all)."""
        cheapest = bcrypt.hashpw(_DUMMY_PASSWORD.encode(), bcrypt.gensalt(MIN_BCRYPT_COST))
        return cls(
            bcrypt_tail=cheapest.decode("ascii")[len("$2b$04$") :],
            apr1=str(apr_md5_crypt.hash(_DUMMY_PASSWORD)),
            sha1=str(ldap_sha1.hash(_DUMMY_PASSWORD)),
        )

    def bcrypt(self, cost: int) -> str:
        """A well-formed bcrypt hash of the given cost: checking it takes that cost's time."""
        # Its digest was made at cost 4, so at any other cost it matches nothing; the result
        # of a check against a dummy is never used anyway, only the time it takes.
        return f"$2b${cost:02d}${self.bcrypt_tail}"
