"""Hand-off records in Redis: the app host's state, the portal's one-time code, the spent mark.

Every record is read with GETDEL, so each is used once even when the check that follows
fails. None holds a secret in the clear: a record is named by the SHA-256 of the random
value that finds it (the state cookie's value, the code), so a copy of Redis hands out
nothing a browser could present.

- state: written by the app host when it sends a signed-out browser to the portal; holds
  the host and the path to return to. The browser keeps the random value in a __Host-
  cookie of that host; the portal sees only its hash (the challenge).
- code: written by the portal for a live portal session; bound to one host, one challenge
  and that portal session. 256 random bits, 60 seconds, no identity in the code itself.
- spent: written when a code is redeemed, naming the child session it made, so that the
  same code presented again ends that child (RFC 6749 section 4.1.2).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any, TypeGuard

from verifier.store import RedisClient
from verifier.store.keyspace import KeySpace
from verifier.store.outages import as_text, guard_for

_guard = guard_for("sso")

SECRET_BYTES = 32  # 256 bits, for the code and the state value alike
CODE_SECONDS = 60
# Long enough for a sign-in on the portal (password, a second factor, enrolling one).
STATE_SECONDS = 900
# How long a redeemed code is remembered, to end what it made if it comes back.
SPENT_SECONDS = 600
# token_urlsafe(32) is 43 characters of base64url; anything else was not minted here.
_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")


def is_secret_shape(value: str | None) -> TypeGuard[str]:
    """True if `value` could be a code or a state value we minted (says nothing more)."""
    return value is not None and _SECRET.fullmatch(value) is not None


def challenge_of(state_value: str) -> str:
    """The challenge the portal binds a code to: base64url SHA-256 of the state value."""
    digest = hashlib.sha256(state_value.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _key_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class HandoffState:
    """What the app host remembered about a sign-in it sent to the portal."""

    host: str
    next_path: str
    # This flow is itself the one automatic restart of a failed hand-off: never another.
    restarted: bool = False


@dataclass(frozen=True)
class HandoffCode:
    """What a code stands for: which portal session may make a child on which host."""

    host: str
    challenge: str
    user: str
    portal_session: str
    restarted: bool = False


@dataclass(frozen=True)
class SpentCode:
    """The child session a redeemed code made."""

    user: str
    child_session: str


class HandoffStore:
    """States, codes and spent marks, each a short-lived key read once."""

    def __init__(self, client: RedisClient, keys: KeySpace) -> None:
        self._redis = client
        self._keys = keys

    async def begin(self, host: str, next_path: str, *, restarted: bool = False) -> str:
        """Remember a hand-off the app host starts; the state value for its cookie."""
        value = secrets.token_urlsafe(SECRET_BYTES)
        record = {"host": host, "next": next_path, "restarted": restarted}
        await _guard(
            self._redis.set(
                self._keys.sso_state(_key_hash(value)), json.dumps(record), ex=STATE_SECONDS
            )
        )
        return value

    async def take_state(self, value: str) -> HandoffState | None:
        """The state a cookie's value names, deleted as it is read; None if unknown."""
        record = await self._take(self._keys.sso_state(_key_hash(value)))
        if record is None:
            return None
        host, next_path = record.get("host"), record.get("next")
        if not isinstance(host, str) or not isinstance(next_path, str):
            return None
        return HandoffState(host, next_path, record.get("restarted") is True)

    async def mint_code(
        self, host: str, challenge: str, user: str, portal_session: str, *, restarted: bool
    ) -> str:
        """A new one-time code for this host, challenge and portal session."""
        code = secrets.token_urlsafe(SECRET_BYTES)
        record = {
            "host": host,
            "challenge": challenge,
            "user": user,
            "portal_session": portal_session,
            "restarted": restarted,
        }
        # NX: a collision of 256 random bits does not happen, and must not overwrite if it did.
        await _guard(
            self._redis.set(
                self._keys.sso_code(_key_hash(code)), json.dumps(record), ex=CODE_SECONDS, nx=True
            )
        )
        return code

    async def take_code(self, code: str) -> HandoffCode | None:
        """The code's record, deleted as it is read: a code works once, pass or fail."""
        record = await self._take(self._keys.sso_code(_key_hash(code)))
        if record is None:
            return None
        fields = [record.get(name) for name in ("host", "challenge", "user", "portal_session")]
        if not all(isinstance(value, str) and value for value in fields):
            return None
        host, challenge, user, portal_session = (str(value) for value in fields)
        return HandoffCode(host, challenge, user, portal_session, record.get("restarted") is True)

    async def mark_spent(self, code: str, user: str, child_session: str) -> None:
        """Remember which child a code is about to make, before it is made."""
        record = {"user": user, "child": child_session}
        await _guard(
            self._redis.set(
                self._keys.sso_spent(_key_hash(code)), json.dumps(record), ex=SPENT_SECONDS
            )
        )

    async def take_spent(self, code: str) -> SpentCode | None:
        """The child a code already made (once: the mark goes as it is read), or None."""
        record = await self._take(self._keys.sso_spent(_key_hash(code)))
        if record is None:
            return None
        user, child = record.get("user"), record.get("child")
        if not isinstance(user, str) or not isinstance(child, str):
            return None
        return SpentCode(user, child)

    async def _take(self, key: str) -> dict[str, Any] | None:
        raw = await _guard(self._redis.getdel(key))
        if raw is None:
            return None
        try:
            record = json.loads(as_text(raw))
        except ValueError:
            return None
        return record if isinstance(record, dict) else None
