"""Signing keys: key files, the ring that picks among them, rotation, JWKS, assertions.

- `files`: one `<kid>.json` per key (0600, atomic writes) in a 0700 directory.
- `ring`: which key signs and which verify at a given time (`KeyRing`, `CurrentRing`).
- `loader` / `reloader`: the ring from the settings, and its reload in every worker.
- `jwks`: the public JWK set; `assertion`: the signed identity assertion.
- `admin` / `commands`: `verifier keys generate|rotate|list|retire`.
"""

from verifier.keyring.assertion import AssertionSigner
from verifier.keyring.files import read_key_directory, write_key_file
from verifier.keyring.jwks import JwkSet, public_jwk
from verifier.keyring.loader import directory_ring, load_ring, ring_policy, static_ring
from verifier.keyring.material import ACCESS, ASSERTION, Key, KeyUse, generate_key
from verifier.keyring.reloader import KeyRingReloader
from verifier.keyring.ring import CurrentRing, KeyRing, KeyState, RingEntry, RingPolicy

__all__ = [
    "ACCESS",
    "ASSERTION",
    "AssertionSigner",
    "CurrentRing",
    "JwkSet",
    "Key",
    "KeyRing",
    "KeyRingReloader",
    "KeyState",
    "KeyUse",
    "RingEntry",
    "RingPolicy",
    "directory_ring",
    "generate_key",
    "load_ring",
    "public_jwk",
    "read_key_directory",
    "ring_policy",
    "static_ring",
    "write_key_file",
]
