"""Recovery codes: ten one-time codes, shown once, kept only as hashes, each usable once.

Each code carries 80 bits from the OS CSPRNG, so a plain SHA-256 is enough to keep a leaked
Redis dump from yielding codes (the same reasoning as refresh tokens), and checking one costs
a single Redis call: SREM of its hash, which succeeds for exactly one request.
"""

from __future__ import annotations

import hashlib
import secrets

from verifier.store import RedisClient
from verifier.store.keyspace import KeySpace
from verifier.store.outages import guard_for

# Every Redis call of this module, timed under its name (verifier_redis_call_*).
_guard = guard_for("recovery_codes")

CODES_PER_SET = 10
# 16 characters of base32 (80 bits), shown in four groups: xxxx-xxxx-xxxx-xxxx.
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_CHARACTERS = 16
_GROUP = 4

# Replace the whole set in one step: the old codes stop working the moment the new ones
# exist. KEYS[1] the user's set; ARGV the new hashes.
_REPLACE = """
redis.call('DEL', KEYS[1])
redis.call('SADD', KEYS[1], unpack(ARGV))
return redis.call('SCARD', KEYS[1])
"""


def new_codes(count: int = CODES_PER_SET) -> list[str]:
    """A fresh set of codes, to show the user once."""
    codes: set[str] = set()
    while len(codes) < count:
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(_CHARACTERS))
        codes.add("-".join(raw[i : i + _GROUP] for i in range(0, _CHARACTERS, _GROUP)))
    return sorted(codes)


def normalized(typed: str) -> str | None:
    """A typed code in its canonical form (case, spaces and dashes forgiven), or None."""
    raw = "".join(char for char in typed.lower() if char not in " -\t")
    if len(raw) != _CHARACTERS or not set(raw) <= set(_ALPHABET):
        return None
    return "-".join(raw[i : i + _GROUP] for i in range(0, _CHARACTERS, _GROUP))


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class RecoveryCodes:
    """A user's recovery codes in Redis, as hashes only."""

    def __init__(self, client: RedisClient, keys: KeySpace) -> None:
        self._redis = client
        self._keys = keys
        self._replace = client.register_script(_REPLACE)

    async def regenerate(self, user: str) -> list[str]:
        """A new set for the user (the old one stops working); the codes, to show once."""
        codes = new_codes()
        await _guard(
            self._replace(
                keys=[self._keys.recovery_codes(user)], args=[_digest(code) for code in codes]
            )
        )
        return codes

    async def use(self, user: str, typed: str) -> bool:
        """True once for a code of the user's current set; False otherwise."""
        code = normalized(typed)
        if code is None:
            return False
        removed = await _guard(self._redis.srem(self._keys.recovery_codes(user), _digest(code)))
        return bool(removed)

    async def remaining(self, user: str) -> int:
        """How many unused codes the user has left."""
        return int(await _guard(self._redis.scard(self._keys.recovery_codes(user))))
