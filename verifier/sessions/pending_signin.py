"""Sign-ins between the password and the second factor, held in Redis for a few minutes.

The browser holds only a random id (256 bits, in the pending cookie); Redis keeps the
record under the id's SHA-256, so a leaked dump yields no usable id (as for refresh
tokens). A record is no session: `/auth` never reads it. It is used once: finish() deletes
it and succeeds for exactly one request.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from verifier.factors.methods import KNOWN_METHODS, PASSWORD
from verifier.store import RedisClient
from verifier.store.keyspace import KeySpace, normalize_user_name
from verifier.store.outages import as_text, guard_for
from verifier.users.sources.interface import UpstreamLink

# Every Redis call of this module, timed under its name (verifier_redis_call_*).
_guard = guard_for("pending_signin")

# Why the sign-in waits: a code of an enrolled factor, or the enrolment a group demands.
VERIFY = "verify"
ENROLL = "enroll"
_PURPOSES = frozenset({VERIFY, ENROLL})
PENDING_ID_BYTES = 32
_PENDING_ID = re.compile(r"[A-Za-z0-9_-]{43}")
# Wrong codes one pending sign-in may take before the password must be typed again (the
# per-account throttle bounds the rate; this bounds one password's worth of guesses).
MAX_ATTEMPTS = 10

# Count a wrong code, only on a record that still exists (HINCRBY on a missing key would
# create one without a TTL). KEYS[1] the record. Returns the new count, or -1 if gone.
_COUNT_FAILURE = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
return redis.call('HINCRBY', KEYS[1], 'attempts', 1)
"""


@dataclass(frozen=True)
class FirstStep:
    """How the first step of a sign-in went, for the session the second step will start:
    its methods (a password, a provider's sign-in) and the upstream sign-in, if any."""

    amr: tuple[str, ...] = (PASSWORD,)
    upstream: UpstreamLink | None = None
    # How often the upstream source is asked again (None for a local user).
    recheck_interval: int | None = None


PASSWORD_STEP = FirstStep()


def _first_step_record(first: FirstStep) -> str:
    upstream = first.upstream
    record: dict[str, Any] = {"amr": list(first.amr)}
    if upstream is not None:
        # In Redis only, like the session that will keep it: never in the cookie.
        record["upstream"] = {
            "source": upstream.source,
            "id": upstream.upstream_id,
            "checked_at": upstream.checked_at,
            "sid": upstream.upstream_sid,
            "refresh_token": upstream.refresh_token,
            "access_token": upstream.access_token,
            "id_token": upstream.id_token,
        }
        record["recheck_interval"] = first.recheck_interval
    return json.dumps(record, separators=(",", ":"))


def _first_step(raw: str) -> FirstStep | None:
    # A record written before first steps were kept: a password sign-in.
    if not raw:
        return PASSWORD_STEP
    try:
        record = json.loads(raw)
        amr = tuple(str(method) for method in record["amr"])
        if not amr or not KNOWN_METHODS.issuperset(amr):
            return None
        found = record.get("upstream")
        if found is None:
            return FirstStep(amr=amr)
        upstream = UpstreamLink(
            source=str(found["source"]),
            upstream_id=str(found["id"]),
            checked_at=float(found["checked_at"]),
            upstream_sid=str(found["sid"]),
            refresh_token=str(found["refresh_token"]),
            access_token=str(found["access_token"]),
            id_token=str(found["id_token"]),
        )
        return FirstStep(
            amr=amr, upstream=upstream, recheck_interval=int(record["recheck_interval"])
        )
    except (ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class PendingSignIn:
    """A password accepted for `user`, waiting for `purpose` to be done."""

    user: str
    next_path: str
    purpose: str
    attempts: int
    # The secret being enrolled (ENROLL only); shown to its owner, never logged.
    totp_secret: str = field(default="", repr=False)
    # How the first step went (a password here or in a directory, a provider's sign-in).
    first: FirstStep = field(default=PASSWORD_STEP, repr=False)


class PendingSignIns:
    """Pending sign-ins in Redis, each alive `ttl_seconds` from the password."""

    def __init__(self, client: RedisClient, keys: KeySpace, ttl_seconds: int) -> None:
        self._redis = client
        self._keys = keys
        self.ttl_seconds = ttl_seconds
        self._count_failure = client.register_script(_COUNT_FAILURE)

    async def start(
        self,
        user: str,
        next_path: str,
        purpose: str,
        totp_secret: str = "",
        first: FirstStep = PASSWORD_STEP,
    ) -> str:
        """Record a pending sign-in; return its id (for the cookie only)."""
        pending_id = secrets.token_urlsafe(PENDING_ID_BYTES)
        key = self._key(pending_id)
        fields: list[str | int] = [
            "user",
            user,
            "next",
            next_path,
            "purpose",
            purpose,
            "attempts",
            0,
        ]
        if totp_secret:
            fields += ["totp_secret", totp_secret]
        if first != PASSWORD_STEP:
            fields += ["first", _first_step_record(first)]
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(key, items=fields)
        pipe.expire(key, self.ttl_seconds)
        await _guard(pipe.execute())
        return pending_id

    async def find(self, pending_id: str | None) -> PendingSignIn | None:
        """The pending sign-in of this id, or None (unknown, expired, malformed, finished)."""
        if pending_id is None or not _PENDING_ID.fullmatch(pending_id):
            return None
        raw = await _guard(self._redis.hgetall(self._key(pending_id)))
        record = {as_text(name): as_text(value) for name, value in raw.items()}
        user = normalize_user_name(record.get("user", ""))
        purpose = record.get("purpose", "")
        attempts = record.get("attempts", "")
        if user is None or purpose not in _PURPOSES or not attempts.isdigit():
            return None
        if purpose == ENROLL and not record.get("totp_secret"):
            return None
        first = _first_step(record.get("first", ""))
        if first is None:
            return None
        return PendingSignIn(
            user=user,
            next_path=record.get("next", "/"),
            purpose=purpose,
            attempts=int(attempts),
            totp_secret=record.get("totp_secret", ""),
            first=first,
        )

    async def count_failure(self, pending_id: str) -> int:
        """Count a wrong code; return the attempts so far (-1 if the record is gone)."""
        return int(await _guard(self._count_failure(keys=[self._key(pending_id)])))

    async def finish(self, pending_id: str) -> bool:
        """End the pending sign-in; True for exactly one caller (the one who completes it)."""
        if not _PENDING_ID.fullmatch(pending_id):
            return False
        return bool(await _guard(self._redis.delete(self._key(pending_id))))

    def _key(self, pending_id: str) -> str:
        return self._keys.pending_signin(pending_id_hash(pending_id))


def pending_id_hash(pending_id: str) -> str:
    """SHA-256 of a pending id: the name Redis keeps it under (256 random bits need no salt)."""
    return hashlib.sha256(pending_id.encode()).hexdigest()
