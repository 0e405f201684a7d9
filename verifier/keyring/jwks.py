"""The public JWK set (RFC 7517) of the assertion keys apps must know right now."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from jwt.algorithms import ECAlgorithm, OKPAlgorithm

from verifier.keyring.material import Key
from verifier.keyring.ring import CurrentRing, KeyRing


def public_jwk(key: Key) -> dict[str, Any]:
    """The public half of an assertion key as a JWK, with its kid, alg and use "sig"."""
    public_key = key.public_key
    exported: dict[str, Any]
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        exported = OKPAlgorithm.to_jwk(public_key, as_dict=True)
    else:
        exported = ECAlgorithm.to_jwk(public_key, as_dict=True)
    return {**exported, "kid": key.kid, "alg": key.alg, "use": "sig"}


class JwkSet:
    """Builds `{"keys": [...]}` from the current ring; each JWK is exported once per ring."""

    def __init__(self, keys: CurrentRing) -> None:
        self._keys = keys
        self._ring: KeyRing | None = None
        self._jwks_by_kid: dict[str, dict[str, Any]] = {}

    def document(self, now: float) -> dict[str, list[dict[str, Any]]]:
        """The JWK set at `now`: pending, signing and still-verifying assertion keys."""
        ring = self._keys.ring
        if ring is not self._ring:
            self._ring = ring
            self._jwks_by_kid = {}
        listed = []
        for key in ring.published(now):
            jwk = self._jwks_by_kid.get(key.kid)
            if jwk is None:
                jwk = self._jwks_by_kid[key.kid] = public_jwk(key)
            listed.append(jwk)
        return {"keys": listed}
