"""One key of the ring: what it is for, when it signs, and its material (never in repr)."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field, replace
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from verifier.settings import MIN_SECRET_LENGTH

KeyUse = Literal["access", "assertion"]
ACCESS: KeyUse = "access"
ASSERTION: KeyUse = "assertion"
USES: tuple[KeyUse, ...] = (ACCESS, ASSERTION)

# One algorithm per key, pinned when the key is made (RFC 8725 section 3.1): access tokens
# are HMACs only the verifiers check; assertions are signatures anyone with the JWKS checks.
ACCESS_ALGORITHMS = ("HS256",)
ASSERTION_ALGORITHMS = ("EdDSA", "ES256")
DEFAULT_ASSERTION_ALGORITHM = "EdDSA"
ALGORITHMS_BY_USE: dict[KeyUse, tuple[str, ...]] = {
    ACCESS: ACCESS_ALGORITHMS,
    ASSERTION: ASSERTION_ALGORITHMS,
}

# Key ids become file names and JWT header values: no separators, no dots at the start.
KID_PATTERN = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")
# 48 random bytes as URL-safe text (64 characters): well past HS256's 32-byte floor.
_SECRET_BYTES = 48

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


@dataclass(frozen=True, eq=False)
class Key:
    """A signing key: HS256 `secret` for access tokens, or a private key for assertions.

    `activates_at` (unix seconds) is when it may start signing; before that it only
    verifies (and, for assertions, is published). `retired_at` marks a key withdrawn with
    `verifier keys retire --force`: its material is gone and it verifies nothing.
    """

    kid: str
    use: KeyUse
    alg: str
    created: int
    activates_at: int
    secret: bytes | None = field(default=None, repr=False)
    private_key: PrivateKey | None = field(default=None, repr=False)
    retired_at: int | None = None

    @property
    def retired(self) -> bool:
        """True for a withdrawn key (a tombstone kept so its tokens are known as retired)."""
        return self.retired_at is not None

    @property
    def public_key(self) -> PublicKey:
        """The public half of an assertion key."""
        if self.private_key is None:
            raise ValueError(f"key {self.kid} has no private key")
        return self.private_key.public_key()

    def withdrawn(self, now: int) -> Key:
        """This key as a tombstone: retired at `now`, its material dropped."""
        return replace(self, retired_at=now, secret=None, private_key=None)


def new_kid(use: KeyUse, now: int) -> str:
    """A fresh key id: its use, its creation date, and random hex so two never collide."""
    # gmtime: the same date whatever the host's time zone.
    day = time.strftime("%Y%m%d", time.gmtime(now))
    return f"{use}-{day}-{secrets.token_hex(4)}"


def generate_key(use: KeyUse, alg: str, now: int, activates_at: int) -> Key:
    """A new random key of `use` signing with `alg` from `activates_at` on."""
    if alg not in ALGORITHMS_BY_USE[use]:
        allowed = "/".join(ALGORITHMS_BY_USE[use])
        raise ValueError(f"{alg} is not an algorithm for {use} keys (use {allowed})")
    kid = new_kid(use, now)
    if use == ACCESS:
        secret = secrets.token_urlsafe(_SECRET_BYTES).encode("ascii")
        return Key(kid, use, alg, now, activates_at, secret=secret)
    private_key: PrivateKey = (
        ed25519.Ed25519PrivateKey.generate()
        if alg == "EdDSA"
        else ec.generate_private_key(ec.SECP256R1())
    )
    return Key(kid, use, alg, now, activates_at, private_key=private_key)


def private_key_pem(key: PrivateKey) -> str:
    """PKCS#8 PEM text of a private key, unencrypted (the file's mode protects it)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def load_private_key(pem: str, alg: str) -> PrivateKey:
    """Parse PEM text; raise ValueError unless it is a private key of `alg`'s type."""
    loaded = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if alg == "EdDSA" and isinstance(loaded, ed25519.Ed25519PrivateKey):
        return loaded
    if (
        alg == "ES256"
        and isinstance(loaded, ec.EllipticCurvePrivateKey)
        and isinstance(loaded.curve, ec.SECP256R1)
    ):
        return loaded
    raise ValueError(f"the private key is not an {_KEY_TYPES[alg]} key")


def check_secret(secret: str) -> bytes:
    """The bytes of an HS256 secret; raise ValueError if it is too short to be one."""
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(f"the secret is shorter than {MIN_SECRET_LENGTH} characters")
    return secret.encode("utf-8")


_KEY_TYPES = {"EdDSA": "Ed25519", "ES256": "EC P-256"}
