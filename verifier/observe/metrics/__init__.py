"""Prometheus metrics: the `Metrics` interface the decision points call, and its labels.

Passed in like the clock and the `AuditLog`: `PrometheusMetrics`
(verifier.observe.metrics.prometheus) counts into prometheus-client's multiprocess files,
`NoMetrics` (VERIFIER_METRICS_BIND=off) does nothing. This module never imports
prometheus-client: it picks its storage (per-process files or memory) when first imported,
from PROMETHEUS_MULTIPROC_DIR, so only code that runs after `verifier serve` set that
variable may import it.

Every label has a small fixed set of values, listed here; never a user name or a token.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from verifier.errors import BearerRefused, RefreshRejected, TokenRejected
from verifier.observe.causes import RevocationCause

# `/auth` answers (the `outcome` label of verifier_auth_decisions_total); a denial also
# carries one of DENIAL_REASONS.
AUTH_ALLOWED = "allowed"  # a valid access token
AUTH_REFRESHED = "refreshed"  # allowed after a silent refresh that rotated the refresh token
AUTH_GRACE = "grace"  # allowed by the previous refresh token inside its grace window
AUTH_DENIED = "denied"  # 401
AUTH_FORBIDDEN = "forbidden"  # 403: signed in, but the rules say no
AUTH_STORE_ERROR = "store_error"  # 503: Redis could not be asked
# A valid API token (Authorization: Bearer vrf_...): one use of a token.
AUTH_TOKEN = "token"  # noqa: S105 (a label)
AUTH_OUTCOMES = (
    AUTH_ALLOWED,
    AUTH_REFRESHED,
    AUTH_GRACE,
    AUTH_FORBIDDEN,
    AUTH_STORE_ERROR,
    AUTH_TOKEN,
)

# Why a token was refused, from the rejection's reason (verifier.sessions.tokens, the rotation
# script); several reasons share a label, and anything unforeseen is "other".
_ACCESS_DENIALS = {
    "oversized": "access_malformed",
    "malformed": "access_malformed",
    "wrong typ": "access_malformed",
    "wrong alg": "access_malformed",
    "unknown kid": "access_unknown_key",
    "key retired": "access_unknown_key",
    "InvalidSignatureError": "access_bad_signature",
    "session ended": "session_ended",
}
_REFRESH_DENIALS = {
    "no token": "no_token",
    "malformed": "refresh_malformed",
    "unknown": "refresh_unknown",
    "replayed": "refresh_replayed",
    "lost": "refresh_lost",
    # The session's upstream source no longer vouches for its user (verifier.sessions.recheck).
    "upstream": "upstream_gone",
}
# Every other access-token reason is a claim PyJWT or verifier.sessions.tokens refused.
_ACCESS_OTHER = "access_bad_claims"
DENIAL_OTHER = "other"
# An API token refused (verifier.apitokens): one label for every reason, as the client sees
# one answer for all of them; verifier_api_token_refusals_total says why.
BEARER_DENIED = "bearer_refused"
BEARER_THROTTLED = "bearer_throttled"
DENIAL_REASONS = (
    *sorted(set(_ACCESS_DENIALS.values()) | {_ACCESS_OTHER}),
    *sorted(set(_REFRESH_DENIALS.values())),
    BEARER_DENIED,
    BEARER_THROTTLED,
    DENIAL_OTHER,
)

# API tokens (verifier_api_tokens_total{event}): made and revoked, by the service (the
# account page) and the CLI alike. Their uses are /auth decisions (outcome "token").
TOKEN_CREATED = "created"  # noqa: S105 (a label)
TOKEN_REVOKED = "revoked"  # noqa: S105 (a label)
TOKEN_EVENTS = (TOKEN_CREATED, TOKEN_REVOKED)
# Why a bearer request was refused (verifier_api_token_refusals_total{reason}): the 401s
# (verifier.apitokens.store's reasons, malformed, throttled) and the 403s (out of the
# token's path scope, or refused by the location and the rules).
TOKEN_REFUSALS = (
    "malformed",
    "unknown",
    "expired",
    "voided",
    "owner_removed",
    "owner_disabled",
    "throttled",
    "out_of_scope",
    "forbidden",
)
TOKEN_REFUSAL_OTHER = "other"  # noqa: S105 (a label)

# Sign-in outcomes (verifier_signins_total); the failures are the reasons of the
# `signin.failed` audit record. A reason not listed here (a new one, such as a second
# factor's, until it is added) counts as "other": a metric must never fail a sign-in.
SIGNIN_OK = "ok"
SIGNIN_OTHER = "other"
# A correct password for a user who has (or must enrol) a second factor: the sign-in waits
# for it (a pending sign-in), and ends later as "ok" or one of the second-factor failures.
SIGNIN_SECOND_FACTOR_REQUIRED = "second_factor_required"
# A live session strengthened in place by the step-up page (its failures count as the sign-in's).
SIGNIN_STEPPED_UP = "stepped_up"
SECOND_FACTOR_FAILURES = ("bad_code", "throttled", "bad_input", "expired", "too_many_attempts")
# A passkey answer refused, as a second step or a passwordless sign-in (the audit record
# says why: its reasons come from the WebAuthn checks and are not a fixed set).
SIGNIN_PASSKEY_REFUSED = "passkey_refused"
# Sign-ins through an upstream source (LDAP, OpenID Connect): it could not be asked; or it
# vouched for a user whose name we refuse (does not fit our rules, or is another's); or the
# round trip through an OpenID Provider failed one of our checks.
SIGNIN_SOURCE_UNAVAILABLE = "source_unavailable"
SIGNIN_NAME_REFUSED = "name_refused"
SIGNIN_ENTRY_REFUSED = "entry_refused"
SIGNIN_PROVIDER_REFUSED = "provider_refused"
SIGNIN_OUTCOMES = (
    SIGNIN_OK,
    "bad_credentials",
    "throttled",
    "busy",
    "bad_input",
    SIGNIN_SECOND_FACTOR_REQUIRED,
    SIGNIN_STEPPED_UP,
    *(f"second_factor_{reason}" for reason in SECOND_FACTOR_FAILURES),
    SIGNIN_PASSKEY_REFUSED,
    SIGNIN_SOURCE_UNAVAILABLE,
    SIGNIN_NAME_REFUSED,
    SIGNIN_ENTRY_REFUSED,
    SIGNIN_PROVIDER_REFUSED,
    SIGNIN_OTHER,
)

# Which store made a Redis call (the `store` label of the Redis timings and errors): each
# store module passes its own name to guard_for (verifier.store.outages).
REDIS_STORES = (
    "sessions",
    "users",
    "throttle",
    "pending_signin",
    "totp",
    "recovery_codes",
    "passkeys",
    "user_factors",
    "api_tokens",
    "cli",
    "sso",
    "upstream_accounts",
    "oidc_flows",
    "oidc_backchannel",
)

# Calls to an upstream source of users (verifier_upstream_calls_total): what for, and how
# they ended. The `source` label is a source's name from the sources file (`ldap:corp`,
# `oidc:keycloak`): a set the operator fixes, never anything a client sends.
UPSTREAM_OPERATIONS = ("signin", "recheck", "password_change", "logout")
UPSTREAM_OK = "ok"
# The upstream answered no: wrong password, no such user, disabled, grant revoked.
UPSTREAM_REFUSED = "refused"
# The upstream could not be asked: down, timed out, or it answered nonsense.
UPSTREAM_UNAVAILABLE = "unavailable"
UPSTREAM_OUTCOMES = (UPSTREAM_OK, UPSTREAM_REFUSED, UPSTREAM_UNAVAILABLE)

# Buckets for sub-millisecond work: the allowed /auth path takes ~40 µs, a Redis round trip
# ~100 µs; the top buckets catch a stalled Redis (its socket timeout is 1 s).
LATENCY_BUCKETS_SECONDS = (
    0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
)  # fmt: skip


def denial_reason(rejection: TokenRejected | RefreshRejected | BearerRefused) -> str:
    """The bounded `reason` label for a refused token."""
    if isinstance(rejection, BearerRefused):
        return BEARER_THROTTLED if rejection.reason == "throttled" else BEARER_DENIED
    if isinstance(rejection, RefreshRejected):
        return _REFRESH_DENIALS.get(rejection.reason, DENIAL_OTHER)
    return _ACCESS_DENIALS.get(rejection.reason, _ACCESS_OTHER)


class Metrics(Protocol):
    """What the decision points count; each call is cheap enough for the /auth path."""

    def auth_answered(self, outcome: str, seconds: float) -> None:
        """/auth answered with `outcome` (one of AUTH_OUTCOMES) after `seconds`."""

    def auth_denied(
        self, rejection: TokenRejected | RefreshRejected | BearerRefused, seconds: float
    ) -> None:
        """/auth answered 401 for this rejection after `seconds`."""

    def api_tokens(self, event: str, count: int = 1) -> None:
        """`count` API tokens were made or revoked (`event`: one of TOKEN_EVENTS)."""

    def api_token_refused(self, reason: str) -> None:
        """A bearer request was refused (`reason`: one of TOKEN_REFUSALS, else other)."""

    def refreshed(self, rotated: bool) -> None:
        """A refresh token was accepted: rotated, or (False) taken inside its grace window."""

    def replay_detected(self) -> None:
        """A spent refresh token came back: its session was revoked."""

    def revoked(self, cause: RevocationCause, sessions: int = 1) -> None:
        """`sessions` sessions ended for `cause`."""

    def signin(self, outcome: str) -> None:
        """A sign-in ended with `outcome` (one of SIGNIN_OUTCOMES, else counted as other)."""

    def redis_call(self, store: str, seconds: float, failed: bool) -> None:
        """One call by `store` (one of REDIS_STORES) took `seconds`; `failed`: it raised a
        connection error."""

    def liveness_lookup(self, hit: bool) -> None:
        """The liveness cache knew the session (hit) or Redis had to be asked (miss)."""

    def revocation_channel(self, up: bool) -> None:
        """This worker's revocation subscription was confirmed (up) or lost (down)."""

    def upstream_call(self, source: str, operation: str, outcome: str) -> None:
        """A call to an upstream source (one of UPSTREAM_OPERATIONS) ended with `outcome`."""

    def flush(self) -> None:
        """Write what was counted since the last flush where the exposition reads it."""


class NoMetrics:
    """Metrics off: every call does nothing."""

    def auth_answered(self, outcome: str, seconds: float) -> None:
        """Do nothing."""

    def auth_denied(
        self, rejection: TokenRejected | RefreshRejected | BearerRefused, seconds: float
    ) -> None:
        """Do nothing."""

    def api_tokens(self, event: str, count: int = 1) -> None:
        """Do nothing."""

    def api_token_refused(self, reason: str) -> None:
        """Do nothing."""

    def refreshed(self, rotated: bool) -> None:
        """Do nothing."""

    def replay_detected(self) -> None:
        """Do nothing."""

    def revoked(self, cause: RevocationCause, sessions: int = 1) -> None:
        """Do nothing."""

    def signin(self, outcome: str) -> None:
        """Do nothing."""

    def redis_call(self, store: str, seconds: float, failed: bool) -> None:
        """Do nothing."""

    def liveness_lookup(self, hit: bool) -> None:
        """Do nothing."""

    def revocation_channel(self, up: bool) -> None:
        """Do nothing."""

    def upstream_call(self, source: str, operation: str, outcome: str) -> None:
        """Do nothing."""

    def flush(self) -> None:
        """Do nothing."""


NO_METRICS = NoMetrics()
FLUSH_SECONDS = 1.0


class MetricsFlusher:
    """A worker's background job: flush its metrics every second, and once more at stop."""

    def __init__(self, metrics: Metrics, interval_seconds: float = FLUSH_SECONDS) -> None:
        self._metrics = metrics
        self._interval = interval_seconds
        self._stopping = False

    async def run(self) -> None:
        """Flush until stopped."""
        while not self._stopping:
            await asyncio.sleep(self._interval)
            self._metrics.flush()

    def stop(self) -> None:
        """Flush what is left; run() returns within one interval (or is cancelled)."""
        self._stopping = True
        self._metrics.flush()


__all__ = [
    "AUTH_OUTCOMES",
    "DENIAL_REASONS",
    "LATENCY_BUCKETS_SECONDS",
    "NO_METRICS",
    "SIGNIN_OUTCOMES",
    "TOKEN_EVENTS",
    "TOKEN_REFUSALS",
    "Metrics",
    "MetricsFlusher",
    "NoMetrics",
    "denial_reason",
]
