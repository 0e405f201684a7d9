"""The token itself: `vrf_` + 256 random bits + a checksum, and the header that carries it.

`vrf_` plus 43 base62 characters (256 bits from the operating system's CSPRNG) plus 6 base62
characters of the secret's CRC-32: 53 characters, `vrf_[0-9A-Za-z]{49}`. The prefix lets
secret scanners (GitHub's, gitleaks, trufflehog) recognise a leaked token by a regex, and
the checksum lets them, and us, tell a real one from 53 characters that merely look like it,
without asking anyone: a token typed wrong or cut short is refused as malformed before
Redis is asked. Base62 because a double-click selects the whole token and no URL, shell or
header needs it escaped (the scheme GitHub documents for its own tokens).

Only the token's SHA-256 is ever stored (`ApiToken.digest`). A plain hash is enough, and a
keyed one (HMAC with a server secret) would add nothing: a 256-bit secret cannot be found
from its hash by guessing, salted or not, and a key would only be one more secret to keep
and rotate, whose loss would void every token.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import zlib
from dataclasses import dataclass, field

from verifier.errors import BearerRefused

TOKEN_PREFIX = "vrf_"  # noqa: S105 (the public prefix, not a secret)
SECRET_BITS = 256
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# 62**43 > 2**256: every 256-bit number fits in 43 base62 digits.
_SECRET_DIGITS = 43
# 62**6 > 2**32: a CRC-32 fits in 6.
_CHECKSUM_DIGITS = 6
TOKEN_LENGTH = len(TOKEN_PREFIX) + _SECRET_DIGITS + _CHECKSUM_DIGITS
TOKEN_PATTERN = re.compile(rf"vrf_[0-9A-Za-z]{{{_SECRET_DIGITS + _CHECKSUM_DIGITS}}}")
# RFC 6750: the scheme in any letter case, one or more spaces, the token, nothing after.
_BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +(\S+)")
# What makes an Authorization header ours: the token prefix, in any letter case, anywhere.
# nginx (verifier-http.conf) applies the same test: such a header goes to /auth, never to
# the app; any other Authorization header is the app's own business and passes untouched.
OURS = TOKEN_PREFIX.encode()
# A token's public name (audit records, headers to the app, the account page): 64 bits.
TOKEN_ID_PATTERN = re.compile(r"[0-9a-f]{16}")
MALFORMED = "malformed"


def _base62(number: int, digits: int) -> str:
    out = []
    for _ in range(digits):
        number, remainder = divmod(number, 62)
        out.append(_ALPHABET[remainder])
    return "".join(reversed(out))


def _checksum(secret: str) -> str:
    return _base62(zlib.crc32(secret.encode()), _CHECKSUM_DIGITS)


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A token as the bearer presents it; `digest` is all that is ever stored."""

    value: str = field(repr=False)

    def __str__(self) -> str:
        return self.value

    @property
    def digest(self) -> str:
        """SHA-256 (hex) of the whole token: its Redis key and nothing else of it."""
        return hashlib.sha256(self.value.encode()).hexdigest()

    @classmethod
    def mint(cls) -> ApiToken:
        """A new token from the operating system's CSPRNG."""
        secret = _base62(secrets.randbits(SECRET_BITS), _SECRET_DIGITS)
        return cls(TOKEN_PREFIX + secret + _checksum(secret))

    @classmethod
    def parse(cls, raw: str, *, checksum: bool = True) -> ApiToken:
        """The token if `raw` is one (shape and checksum); else BearerRefused("malformed").

        `checksum=False` checks the shape alone, for a caller that looks the token up among
        the ones it already checked (by digest) before it checks the rest.
        """
        if len(raw) != TOKEN_LENGTH or not TOKEN_PATTERN.fullmatch(raw):
            raise BearerRefused(MALFORMED)
        token = cls(raw)
        if checksum:
            token.check_checksum()
        return token

    def check_checksum(self) -> None:
        """BearerRefused("malformed") unless the last 6 characters are the secret's CRC-32."""
        secret = self.value[len(TOKEN_PREFIX) : len(TOKEN_PREFIX) + _SECRET_DIGITS]
        # Not a secret comparison: the checksum is public, computed from the token itself.
        if self.value[-_CHECKSUM_DIGITS:] != _checksum(secret):
            raise BearerRefused(MALFORMED)


def is_ours(authorization: bytes) -> bool:
    """True when an Authorization header carries (or tries to carry) one of our tokens."""
    return OURS in authorization.lower()


def token_from_header(authorization: str, *, checksum: bool = True) -> ApiToken:
    """The token of `Authorization: Bearer vrf_...`; BearerRefused("malformed") otherwise.

    Strict: one scheme, one token, nothing else. A header that names our prefix in any other
    shape (`Token vrf_...`, two tokens, a token cut short) is malformed, never ignored: it was
    meant for us, and must not fall back to whatever cookies came with it. `checksum`: as
    for ApiToken.parse.
    """
    match = _BEARER.fullmatch(authorization.strip(" \t"))
    if match is None:
        raise BearerRefused(MALFORMED)
    return ApiToken.parse(match.group(1), checksum=checksum)


def new_token_id() -> str:
    """A token's public id: 64 random bits as 16 hex digits."""
    return secrets.token_hex(8)


def is_token_id(raw: str) -> bool:
    """True if `raw` has the shape of a token id (says nothing about whether it exists)."""
    return TOKEN_ID_PATTERN.fullmatch(raw) is not None
