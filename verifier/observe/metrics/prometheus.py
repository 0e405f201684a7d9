"""PrometheusMetrics: every verifier_* metric, counted in plain ints and flushed each second.

Import this module only once PROMETHEUS_MULTIPROC_DIR is set (or deliberately without it,
for in-memory values): prometheus-client picks its storage at import time.

Why the buffering: in multiprocess mode each increment takes a lock and writes an mmap'ed
file (~2 µs, ~4 µs for a histogram observation, measured here), several per /auth request
whose allowed path is ~40 µs. The hot path instead adds to Python ints and lists; `flush()`,
run every second by the worker (verifier.app) and once more at shutdown, adds the sums to the
prometheus-client values. A scrape therefore lags by up to a second, and a worker that
crashes loses at most its last second of counts.
"""

from __future__ import annotations

import platform
from bisect import bisect_left
from collections.abc import Sequence
from importlib import metadata

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from verifier.errors import BearerRefused, RefreshRejected, TokenRejected
from verifier.observe.causes import RevocationCause
from verifier.observe.metrics import (
    AUTH_DENIED,
    AUTH_OUTCOMES,
    DENIAL_REASONS,
    LATENCY_BUCKETS_SECONDS,
    REDIS_STORES,
    SIGNIN_OTHER,
    SIGNIN_OUTCOMES,
    TOKEN_EVENTS,
    TOKEN_REFUSAL_OTHER,
    TOKEN_REFUSALS,
    denial_reason,
)

_CAUSES = tuple(cause.value for cause in RevocationCause)


def api_tokens_counter(registry: CollectorRegistry) -> Counter:
    """verifier_api_tokens_total{event}: tokens made and revoked; shared by the service and
    the CLI."""
    return Counter(
        "verifier_api_tokens",
        "API tokens made (created) and revoked (revoked, each token counted once).",
        ["event"],
        registry=registry,
    )


def revocations_counter(registry: CollectorRegistry) -> Counter:
    """verifier_sessions_revoked_total{cause}: shared by the service and the CLI."""
    return Counter(
        "verifier_sessions_revoked",
        "Sessions ended, by cause.",
        ["cause"],
        registry=registry,
    )


class _Tally:
    """One labelled counter: pending counts per label value, added to it on flush."""

    def __init__(self, counter: Counter, values: Sequence[str]) -> None:
        # Pre-bound once: .labels() looks the child up and validates, too slow per request.
        self._children = [counter.labels(value) for value in values]
        self.index = {value: position for position, value in enumerate(values)}
        self.pending = [0] * len(values)

    def add(self, value: str, amount: int = 1) -> None:
        """Count `amount` for one label value (a KeyError for a value outside the set)."""
        self.pending[self.index[value]] += amount

    def flush(self) -> None:
        """Add the pending counts to the counter."""
        pending = self.pending
        for position, amount in enumerate(pending):
            if amount:
                self._children[position].inc(amount)
                pending[position] = 0


class _Timings:
    """One histogram (or one label value's child): pending bucket counts and sum, added to
    it on flush."""

    def __init__(self, histogram: Histogram) -> None:
        self._histogram = histogram
        # prometheus-client keeps one (non-cumulative) value per upper bound, +Inf last, and
        # the sum: the flush adds to those, as observe() would one observation at a time.
        # They are its internals (pinned below 1.0 in pyproject.toml; a unit test compares
        # flushed figures with observe()'s), the only way to add many observations at once.
        self._bounds = list(histogram._upper_bounds)
        self._counts = [0] * len(self._bounds)
        self._sum = 0.0

    def observe(self, seconds: float) -> None:
        """Count one observation."""
        # bisect_left finds the first bound >= seconds: Prometheus buckets are "le".
        self._counts[bisect_left(self._bounds, seconds)] += 1
        self._sum += seconds

    def flush(self) -> None:
        """Add the pending observations to the histogram."""
        if not any(self._counts):
            return
        buckets = self._histogram._buckets
        for position, amount in enumerate(self._counts):
            if amount:
                buckets[position].inc(amount)
                self._counts[position] = 0
        self._histogram._sum.inc(self._sum)
        self._sum = 0.0


class PrometheusMetrics:
    """The verifier's metrics in a prometheus-client registry (its own one by default).

    Under gunicorn, every worker has its own instance, whose values live in its own files of
    PROMETHEUS_MULTIPROC_DIR; the master's exposition sums them (verifier.observe.metrics
    .exposition). A test passes a registry and reads it after flush().
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry if registry is not None else CollectorRegistry()
        self.registry = registry
        decisions = Counter(
            "verifier_auth_decisions",
            "/auth answers, by outcome; denials (401) also by reason.",
            ["outcome", "reason"],
            registry=registry,
        )
        self._decisions = [decisions.labels(outcome, "") for outcome in AUTH_OUTCOMES]
        self._decision_index = {outcome: i for i, outcome in enumerate(AUTH_OUTCOMES)}
        self._decision_pending = [0] * len(AUTH_OUTCOMES)
        self._denials = [decisions.labels(AUTH_DENIED, reason) for reason in DENIAL_REASONS]
        self._denial_index = {reason: i for i, reason in enumerate(DENIAL_REASONS)}
        self._denial_pending = [0] * len(DENIAL_REASONS)
        self._auth_latency = _Timings(
            Histogram(
                "verifier_auth_duration_seconds",
                "Time /auth took to decide, from the request's headers to the answer.",
                buckets=LATENCY_BUCKETS_SECONDS,
                registry=registry,
            )
        )
        self._refreshes = _Tally(
            Counter(
                "verifier_refreshes",
                "Refresh tokens accepted: rotated (a new one issued) or grace (the previous "
                "one, inside its grace window).",
                ["outcome"],
                registry=registry,
            ),
            ("rotated", "grace"),
        )
        self._replays = Counter(
            "verifier_refresh_replays",
            "Spent refresh tokens presented again (each revokes its session).",
            registry=registry,
        )
        self._replays_pending = 0
        self._revocations = _Tally(revocations_counter(registry), _CAUSES)
        self._api_tokens = _Tally(api_tokens_counter(registry), TOKEN_EVENTS)
        self._token_refusals = _Tally(
            Counter(
                "verifier_api_token_refusals",
                "Requests with an API token that /auth refused, by reason (every 401 looks "
                "the same to the client; this says why).",
                ["reason"],
                registry=registry,
            ),
            (*TOKEN_REFUSALS, TOKEN_REFUSAL_OTHER),
        )
        self._signins = _Tally(
            Counter(
                "verifier_signins", "Sign-in attempts, by outcome.", ["outcome"], registry=registry
            ),
            SIGNIN_OUTCOMES,
        )
        redis_latency = Histogram(
            "verifier_redis_call_duration_seconds",
            "Time each Redis call (command, pipeline or script) took, failed ones included, "
            "by the store that made it.",
            ["store"],
            buckets=LATENCY_BUCKETS_SECONDS,
            registry=registry,
        )
        self._redis_latency = {
            store: _Timings(redis_latency.labels(store)) for store in REDIS_STORES
        }
        self._redis_errors = _Tally(
            Counter(
                "verifier_redis_errors",
                "Redis calls that failed with a connection error (the request failed closed), "
                "by the store that made it.",
                ["store"],
                registry=registry,
            ),
            REDIS_STORES,
        )
        self._liveness = _Tally(
            Counter(
                "verifier_liveness_cache_lookups",
                "Session checks the per-worker liveness cache answered (hit) or sent to Redis "
                "(miss).",
                ["result"],
                registry=registry,
            ),
            ("hit", "miss"),
        )
        self._channel = Gauge(
            "verifier_revocation_channel_up",
            "1 when every live worker is subscribed to the revocation channel, else 0.",
            registry=registry,
            multiprocess_mode="livemin",
        )
        self._upstream_calls = Counter(
            "verifier_upstream_calls",
            "Calls to upstream sources of users (LDAP, OpenID Providers), by source, what "
            "for, and outcome (ok, refused, unavailable).",
            ["source", "operation", "outcome"],
            registry=registry,
        )
        Gauge(
            "verifier_build_info",
            "Always 1; the labels say which verifier and Python run.",
            ["version", "python"],
            registry=registry,
            multiprocess_mode="max",
        ).labels(_version(), platform.python_version()).set(1)

    def auth_answered(self, outcome: str, seconds: float) -> None:
        """Count one /auth answer and its time."""
        self._decision_pending[self._decision_index[outcome]] += 1
        self._auth_latency.observe(seconds)

    def auth_denied(
        self, rejection: TokenRejected | RefreshRejected | BearerRefused, seconds: float
    ) -> None:
        """Count one 401 by its bounded reason, and its time."""
        self._denial_pending[self._denial_index[denial_reason(rejection)]] += 1
        self._auth_latency.observe(seconds)

    def api_tokens(self, event: str, count: int = 1) -> None:
        """Count tokens made or revoked."""
        if count:
            self._api_tokens.add(event, count)

    def api_token_refused(self, reason: str) -> None:
        """Count one refused bearer request (an unlisted reason as other)."""
        index = self._token_refusals.index
        self._token_refusals.add(reason if reason in index else TOKEN_REFUSAL_OTHER)

    def refreshed(self, rotated: bool) -> None:
        """Count one accepted refresh token."""
        self._refreshes.add("rotated" if rotated else "grace")

    def replay_detected(self) -> None:
        """Count a replay, and the revocation it caused."""
        self._replays_pending += 1
        self._revocations.add(RevocationCause.REPLAY)

    def revoked(self, cause: RevocationCause, sessions: int = 1) -> None:
        """Count sessions ended for a cause."""
        self._revocations.add(cause, sessions)

    def signin(self, outcome: str) -> None:
        """Count one sign-in outcome (an unlisted one as other)."""
        self._signins.add(outcome if outcome in self._signins.index else SIGNIN_OTHER)

    def redis_call(self, store: str, seconds: float, failed: bool) -> None:
        """Count one Redis call's time, and its failure, under its store."""
        self._redis_latency[store].observe(seconds)
        if failed:
            self._redis_errors.add(store)

    def liveness_lookup(self, hit: bool) -> None:
        """Count one liveness cache lookup."""
        self._liveness.pending[0 if hit else 1] += 1

    def revocation_channel(self, up: bool) -> None:
        """Set this worker's channel gauge (rare: written at once)."""
        self._channel.set(1 if up else 0)

    def upstream_call(self, source: str, operation: str, outcome: str) -> None:
        """Count one call to an upstream source (rare, and slow anyway: written at once)."""
        self._upstream_calls.labels(source, operation, outcome).inc()

    def flush(self) -> None:
        """Add everything counted since the last flush to the prometheus-client values."""
        _flush_children(self._decisions, self._decision_pending)
        _flush_children(self._denials, self._denial_pending)
        self._auth_latency.flush()
        self._refreshes.flush()
        if self._replays_pending:
            self._replays.inc(self._replays_pending)
            self._replays_pending = 0
        self._revocations.flush()
        self._api_tokens.flush()
        self._token_refusals.flush()
        self._signins.flush()
        for timings in self._redis_latency.values():
            timings.flush()
        self._redis_errors.flush()
        self._liveness.flush()


def _flush_children(children: Sequence[Counter], pending: list[int]) -> None:
    for position, amount in enumerate(pending):
        if amount:
            children[position].inc(amount)
            pending[position] = 0


def _version() -> str:
    try:
        return metadata.version("verifier")
    except metadata.PackageNotFoundError:
        return "unknown"
