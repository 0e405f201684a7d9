"""Build the key ring the settings describe: a keys directory, or VERIFIER_JWT_KEYS."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from verifier.errors import KeyFileError
from verifier.keyring.files import DirectorySignature, read_key_directory
from verifier.keyring.material import ACCESS, Key
from verifier.keyring.ring import KeyRing, RingPolicy
from verifier.settings import Settings, SigningKey

# VERIFIER_JWT_KEYS has no times: the operator drops an old key by hand, so every key of
# it verifies for as long as it is listed.
STATIC_POLICY = RingPolicy(access_verify_seconds=math.inf, assertion_verify_seconds=math.inf)


def ring_policy(settings: Settings) -> RingPolicy:
    """How long superseded keys verify: the longest token lifetime of each use, plus leeway.

    Leeway covers clock skew between hosts: one whose clock lags signs with the old key a
    little after T, and verifiers accept a token up to `leeway` past its `exp`.
    """
    leeway = settings.jwt_leeway_seconds
    return RingPolicy(
        access_verify_seconds=settings.access_ttl_seconds + leeway,
        assertion_verify_seconds=settings.assertion_ttl_seconds + leeway,
    )


def static_ring(signing_keys: Sequence[SigningKey]) -> KeyRing:
    """The ring of VERIFIER_JWT_KEYS: the first key signs, every key verifies."""
    # Same activation time for all: the ring's tie-break (the later one given wins) makes
    # the first key of the list the signer.
    keys = [
        Key(key.kid, ACCESS, "HS256", created=0, activates_at=0, secret=key.secret)
        for key in reversed(signing_keys)
    ]
    return KeyRing(keys, STATIC_POLICY)


def directory_ring(
    directory: Path, policy: RingPolicy, now: float
) -> tuple[KeyRing, DirectorySignature]:
    """Read a keys directory into a ring; raise KeyFileError if it cannot serve at `now`."""
    read = read_key_directory(directory)
    ring = KeyRing(read.keys, policy)
    if ring.signing_key(ACCESS, now) is None:
        raise KeyFileError(
            directory,
            "holds no access key that signs now: create one with "
            "`verifier keys generate --use access`",
        )
    return ring, read.signature


def load_ring(settings: Settings, now: float) -> KeyRing:
    """The ring of the settings at `now`; raise KeyFileError for a bad keys directory."""
    if settings.keys_dir is None:
        return static_ring(settings.signing_keys)
    ring, _ = directory_ring(settings.keys_dir, ring_policy(settings), now)
    return ring
