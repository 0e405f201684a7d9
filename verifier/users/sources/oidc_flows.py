"""Sign-ins in flight at an OpenID Provider: state, nonce and PKCE verifier, kept in Redis.

The browser carries only two random values: `state` (in the URL, through the provider) and
a binding (in a __Host- cookie of ours). The record, named by the SHA-256 of the state, holds
the nonce, the PKCE code verifier, the provider, where to go after and the SHA-256 of the
binding; it lives `flow_seconds` and is read with GETDEL, so a state works once, pass or
fail. A callback whose cookie is not the one its flow was started with (another browser: a
login CSRF, or a state replayed) finds nothing to finish.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass, field

from verifier.store import RedisClient
from verifier.store.keyspace import KeySpace
from verifier.store.outages import as_text, guard_for

_guard = guard_for("oidc_flows")

SECRET_BYTES = 32
# token_urlsafe(32): 43 characters of base64url; anything else was not minted here.
_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")


def is_flow_secret(value: str | None) -> bool:
    """True if `value` could be a state or binding we minted (says nothing more)."""
    return value is not None and _SECRET.fullmatch(value) is not None


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class Flow:
    """One sign-in in flight: what the callback needs to finish it."""

    source: str
    next_path: str
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)
    binding_hash: str = field(repr=False)
    # A step-up (`max_age`) of this live session, not a sign-in: the provider is asked to
    # sign the user in again, and its `auth_time` must not be older than `started_at`.
    step_up_session: str = ""
    started_at: float = 0.0

    def signed_in_again(self, stated_auth_time: float | None, skew_seconds: int) -> bool:
        """For a step-up: True if the provider says the user signed in during this flow
        (an `auth_time` no older than its start, give or take the clock skew)."""
        if stated_auth_time is None:
            return False
        return stated_auth_time >= self.started_at - skew_seconds

    def bound_to(self, binding: str | None) -> bool:
        """True if the browser's cookie is the one this flow was started with."""
        if not is_flow_secret(binding):
            return False
        return hmac.compare_digest(self.binding_hash, _hash(str(binding)))


@dataclass(frozen=True)
class StartedFlow:
    """A new flow: the values for the authorization request and the browser's cookie."""

    state: str
    binding: str = field(repr=False)
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)


class FlowStore:
    """Flows in Redis, each read once."""

    def __init__(self, client: RedisClient, keys: KeySpace) -> None:
        self._redis = client
        self._keys = keys

    async def begin(
        self,
        source: str,
        next_path: str,
        lifetime_seconds: int,
        *,
        step_up_session: str = "",
        started_at: float = 0.0,
    ) -> StartedFlow:
        """Remember a new flow through `source` (a step-up of `step_up_session`, begun at
        `started_at`, when given); its values."""
        started = StartedFlow(
            state=secrets.token_urlsafe(SECRET_BYTES),
            binding=secrets.token_urlsafe(SECRET_BYTES),
            nonce=secrets.token_urlsafe(SECRET_BYTES),
            # RFC 7636: 43-128 characters of the unreserved set; 256 random bits.
            code_verifier=secrets.token_urlsafe(SECRET_BYTES),
        )
        record = {
            "source": source,
            "next": next_path,
            "nonce": started.nonce,
            "verifier": started.code_verifier,
            "binding": _hash(started.binding),
            "step_up": step_up_session,
            "started": started_at,
        }
        await _guard(
            self._redis.set(
                self._keys.oidc_flow(_hash(started.state)),
                json.dumps(record),
                ex=lifetime_seconds,
                nx=True,
            )
        )
        return started

    async def take(self, state: str) -> Flow | None:
        """The flow a state names, deleted as it is read; None if unknown, spent or expired."""
        if not is_flow_secret(state):
            return None
        raw = await _guard(self._redis.getdel(self._keys.oidc_flow(_hash(state))))
        return None if raw is None else _parsed(as_text(raw))


def _parsed(raw: str) -> Flow | None:
    """A stored flow record as a Flow; None for anything we did not write."""
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    values = [record.get(k) for k in ("source", "next", "nonce", "verifier", "binding")]
    if not all(isinstance(v, str) and v for v in values):
        return None
    source, next_path, nonce, verifier, binding = (str(v) for v in values)
    step_up, started = record.get("step_up", ""), record.get("started", 0.0)
    if not isinstance(step_up, str) or not isinstance(started, int | float):
        return None
    return Flow(source, next_path, nonce, verifier, binding, step_up, float(started))
