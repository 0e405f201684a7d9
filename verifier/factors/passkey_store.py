"""A user's passkeys in Redis, and the single-use WebAuthn challenges.

Each passkey is a hash at `KeySpace.passkey(user, sha256(credential id))`, listed in the
set `KeySpace.passkeys(user)`: all under the user's hash tag, so each script below touches
one slot. A public key is no secret, but it is all a sign-in is checked against: protect
Redis as for the password hashes. Challenges live `CEREMONY_SECONDS` under the SHA-256 of
what they are bound to (a pending sign-in, a session, a passwordless cookie) and are taken
with GETDEL: one answer per challenge, however many requests race.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from verifier.factors.passkeys import CEREMONY_SECONDS, NewCredential
from verifier.store import RedisClient
from verifier.store.keyspace import KeySpace
from verifier.store.outages import as_text, guard_for

# Every Redis call of this module, timed under its name (verifier_redis_call_*).
_guard = guard_for("passkeys")

# Passkeys one user may hold: enough for every device, few enough to list on one page.
MAX_PASSKEYS_PER_USER = 20
MAX_NAME_LENGTH = 64
# Which ceremony a challenge belongs to (part of its key: one cannot answer another).
REGISTER = "register"
SECOND_FACTOR = "second-factor"
PASSWORDLESS = "passwordless"

# Add a passkey unless its credential id is known or the user is at the limit.
# KEYS[1] the user's set, KEYS[2] the passkey's hash; ARGV[1] its id hash, ARGV[2] the
# limit, ARGV[3..] field/value pairs. Returns 1 added, 0 already there, -1 at the limit.
_ADD = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then
  return 0
end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return -1
end
redis.call('HSET', KEYS[2], unpack(ARGV, 3))
redis.call('SADD', KEYS[1], ARGV[1])
return 1
"""

# Record a sign-in: the sign count only goes up (a clone of the authenticator shows as a
# count that did not), checked and written in one step so two racing sign-ins cannot both
# pass with the same count. KEYS[1] the passkey; ARGV[1] new count, ARGV[2] now.
# Returns 1 recorded, 0 count regressed, -1 passkey gone.
_RECORD_USE = """
local stored = redis.call('HGET', KEYS[1], 'sign_count')
if not stored then
  return -1
end
local current, new = tonumber(stored), tonumber(ARGV[1])
if (new > 0 or current > 0) and new <= current then
  return 0
end
redis.call('HSET', KEYS[1], 'sign_count', ARGV[1], 'last_used', ARGV[2])
return 1
"""

# Remove one passkey: KEYS[1] the set, KEYS[2] the hash; ARGV[1] its id hash.
_REMOVE = """
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('DEL', KEYS[2])
return 1
"""


@dataclass(frozen=True)
class Passkey:
    """One registered passkey."""

    credential_id: bytes
    public_key: bytes = field(repr=False)
    sign_count: int
    transports: tuple[str, ...]
    name: str
    created: float
    last_used: float | None

    @property
    def credential_hash(self) -> str:
        """SHA-256 (hex) of the credential id: its name in Redis, in forms and in audits."""
        return credential_hash(self.credential_id)

    @property
    def short_id(self) -> str:
        """The first 12 hex digits of the hash: enough to tell a user's passkeys apart."""
        return self.credential_hash[:12]


def credential_hash(credential_id: bytes) -> str:
    """SHA-256 (hex) of a credential id."""
    return hashlib.sha256(credential_id).hexdigest()


def binding_hash(value: str) -> str:
    """SHA-256 (hex) of what a challenge is bound to: the key never holds the value itself."""
    return hashlib.sha256(value.encode()).hexdigest()


class PasskeyStore:
    """Adds, lists, checks and removes one user's passkeys."""

    def __init__(self, client: RedisClient, keys: KeySpace) -> None:
        self._redis = client
        self._keys = keys
        self._add = client.register_script(_ADD)
        self._record_use = client.register_script(_RECORD_USE)
        self._remove = client.register_script(_REMOVE)

    async def add(self, user: str, credential: NewCredential, name: str, now: float) -> int:
        """Store a new passkey: 1 added, 0 already registered, -1 the user is at the limit."""
        digest = credential_hash(credential.credential_id)
        fields = [
            "credential_id",
            _b64(credential.credential_id),
            "public_key",
            _b64(credential.public_key),
            "sign_count",
            str(credential.sign_count),
            "transports",
            ",".join(credential.transports),
            "name",
            name,
            "created",
            repr(now),
        ]
        keys = [self._keys.passkeys(user), self._keys.passkey(user, digest)]
        result = await _guard(self._add(keys=keys, args=[digest, MAX_PASSKEYS_PER_USER, *fields]))
        return int(result)

    async def count(self, user: str) -> int:
        """How many passkeys the user has."""
        return int(await _guard(self._redis.scard(self._keys.passkeys(user))))

    async def list(self, user: str) -> list[Passkey]:
        """The user's passkeys, oldest first."""
        digests = sorted(
            as_text(d) for d in await _guard(self._redis.smembers(self._keys.passkeys(user)))
        )
        if not digests:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for digest in digests:
            pipe.hgetall(self._keys.passkey(user, digest))
        records = await _guard(pipe.execute())
        found = [passkey for passkey in map(_passkey, records) if passkey is not None]
        return sorted(found, key=lambda passkey: passkey.created)

    async def find(self, user: str, credential_id: bytes) -> Passkey | None:
        """The user's passkey with this credential id, or None."""
        key = self._keys.passkey(user, credential_hash(credential_id))
        return _passkey(await _guard(self._redis.hgetall(key)))

    async def record_use(self, user: str, passkey: Passkey, new_sign_count: int, now: float) -> int:
        """Record a sign-in: 1 recorded, 0 the sign count went back (refused), -1 gone."""
        key = self._keys.passkey(user, passkey.credential_hash)
        return int(await _guard(self._record_use(keys=[key], args=[new_sign_count, repr(now)])))

    async def remove(self, user: str, digest: str) -> bool:
        """Remove the passkey whose credential id hashes to `digest`; False if none."""
        keys = [self._keys.passkeys(user), self._keys.passkey(user, digest)]
        return bool(await _guard(self._remove(keys=keys, args=[digest])))

    async def remove_all(self, user: str) -> int:
        """Remove every passkey of the user (an admin's mfa-reset); how many there were."""
        removed = 0
        for passkey in await self.list(user):
            removed += int(await self.remove(user, passkey.credential_hash))
        return removed


class ChallengeStore:
    """Single-use challenges with their ceremony's state, each bound to one browser."""

    def __init__(self, client: RedisClient, keys: KeySpace) -> None:
        self._redis = client
        self._keys = keys

    async def put(self, purpose: str, binding: str, challenge: bytes, **state: str) -> None:
        """Remember `challenge` for the browser holding `binding` (the last one wins)."""
        record = json.dumps({"challenge": _b64(challenge), **state})
        key = self._keys.webauthn_challenge(purpose, binding_hash(binding))
        await _guard(self._redis.set(key, record, ex=CEREMONY_SECONDS))

    async def take(self, purpose: str, binding: str) -> tuple[bytes, dict[str, str]] | None:
        """The challenge and state, removed as they are read; None if absent or expired."""
        key = self._keys.webauthn_challenge(purpose, binding_hash(binding))
        raw = await _guard(self._redis.getdel(key))
        if raw is None:
            return None
        try:
            record: dict[str, Any] = json.loads(as_text(raw))
            challenge = base64.urlsafe_b64decode(str(record.pop("challenge")) + "==")
        except (ValueError, KeyError, TypeError, AttributeError):  # AttributeError: not an object
            return None
        return challenge, {name: str(value) for name, value in record.items()}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _passkey(raw: dict[Any, Any]) -> Passkey | None:
    record = {as_text(name): as_text(value) for name, value in raw.items()}
    try:
        last_used = record.get("last_used")
        return Passkey(
            credential_id=_unb64(record["credential_id"]),
            public_key=_unb64(record["public_key"]),
            sign_count=int(record["sign_count"]),
            transports=tuple(t for t in record.get("transports", "").split(",") if t),
            name=record.get("name", ""),
            created=float(record["created"]),
            last_used=float(last_used) if last_used else None,
        )
    except (KeyError, ValueError):
        return None
