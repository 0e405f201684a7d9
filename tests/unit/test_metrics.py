"""verifier.observe.metrics: what each call counts, the bounded labels, the flush, the liveness
cache's hits and channel gauge; read from a real prometheus-client registry (in memory: this
process has no PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram

import verifier
from verifier.errors import (
    AccessTokenExpired,
    BearerRefused,
    BearerThrottled,
    RefreshRejected,
    TokenRejected,
)
from verifier.observe.causes import RevocationCause
from verifier.observe.metrics import (
    AUTH_OUTCOMES,
    DENIAL_REASONS,
    LATENCY_BUCKETS_SECONDS,
    REDIS_STORES,
    SIGNIN_OUTCOMES,
    TOKEN_EVENTS,
    TOKEN_REFUSALS,
    MetricsFlusher,
    NoMetrics,
    denial_reason,
)
from verifier.observe.metrics.prometheus import PrometheusMetrics
from verifier.sessions.liveness import LivenessCache


def _metrics() -> tuple[PrometheusMetrics, CollectorRegistry]:
    registry = CollectorRegistry()
    return PrometheusMetrics(registry), registry


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_auth_answers_count_by_outcome_after_a_flush() -> None:
    metrics, registry = _metrics()
    metrics.auth_answered("allowed", 0.00004)
    metrics.auth_answered("allowed", 0.00004)
    metrics.auth_answered("refreshed", 0.0003)
    metrics.auth_answered("store_error", 1.2)

    metrics.flush()

    def decisions(outcome: str) -> float | None:
        return _value(registry, "verifier_auth_decisions_total", outcome=outcome, reason="")

    assert decisions("allowed") == 2
    assert decisions("refreshed") == 1
    assert decisions("grace") == 0
    assert decisions("forbidden") == 0
    assert decisions("store_error") == 1
    assert _value(registry, "verifier_auth_duration_seconds_count") == 4
    assert _value(registry, "verifier_auth_duration_seconds_bucket", le="0.00025") == 2
    assert _value(registry, "verifier_auth_duration_seconds_bucket", le="0.0005") == 3
    assert _value(registry, "verifier_auth_duration_seconds_bucket", le="1.0") == 3
    assert _value(registry, "verifier_auth_duration_seconds_bucket", le="+Inf") == 4


def test_nothing_reaches_the_registry_before_a_flush() -> None:
    metrics, registry = _metrics()
    metrics.auth_answered("allowed", 0.00004)
    metrics.signin("ok")
    metrics.redis_call("sessions", 0.0001, failed=True)

    assert _value(registry, "verifier_auth_decisions_total", outcome="allowed", reason="") == 0
    assert _value(registry, "verifier_signins_total", outcome="ok") == 0
    assert _value(registry, "verifier_redis_errors_total", store="sessions") == 0
    assert _value(registry, "verifier_auth_duration_seconds_count") == 0


def test_a_second_flush_adds_only_what_was_counted_since() -> None:
    metrics, registry = _metrics()
    metrics.signin("bad_credentials")
    metrics.flush()
    metrics.flush()
    metrics.signin("bad_credentials")
    metrics.flush()

    assert _value(registry, "verifier_signins_total", outcome="bad_credentials") == 2


def test_denials_count_by_bounded_reason() -> None:
    metrics, registry = _metrics()
    metrics.auth_denied(RefreshRejected("no token"), 0.00001)
    metrics.auth_denied(RefreshRejected("replayed"), 0.0002)
    metrics.auth_denied(TokenRejected("InvalidSignatureError"), 0.00003)
    metrics.auth_denied(TokenRejected("ExpiredSignatureError"), 0.00003)
    metrics.flush()

    def denied(reason: str) -> float | None:
        return _value(registry, "verifier_auth_decisions_total", outcome="denied", reason=reason)

    assert denied("no_token") == 1
    assert denied("refresh_replayed") == 1
    assert denied("access_bad_signature") == 1
    assert denied("access_bad_claims") == 1
    assert denied("other") == 0
    assert _value(registry, "verifier_auth_duration_seconds_count") == 4


def test_a_replay_counts_as_a_replay_and_as_a_revocation() -> None:
    metrics, registry = _metrics()
    metrics.replay_detected()
    metrics.flush()

    assert _value(registry, "verifier_refresh_replays_total") == 1
    assert _value(registry, "verifier_sessions_revoked_total", cause="replay") == 1


def test_revocations_count_sessions_by_cause() -> None:
    metrics, registry = _metrics()
    metrics.revoked(RevocationCause.LOGOUT)
    metrics.revoked(RevocationCause.LOGOUT_EVERYWHERE, 3)
    metrics.revoked(RevocationCause.LOGOUT, 0)  # a logout of a session already gone
    metrics.flush()

    def revoked(cause: str) -> float | None:
        return _value(registry, "verifier_sessions_revoked_total", cause=cause)

    assert revoked("logout") == 1
    assert revoked("logout_everywhere") == 3
    assert [revoked(cause.value) for cause in RevocationCause].count(0) == len(RevocationCause) - 2


def test_refreshes_count_rotations_and_grace_apart() -> None:
    metrics, registry = _metrics()
    metrics.refreshed(rotated=True)
    metrics.refreshed(rotated=True)
    metrics.refreshed(rotated=False)
    metrics.flush()

    assert _value(registry, "verifier_refreshes_total", outcome="rotated") == 2
    assert _value(registry, "verifier_refreshes_total", outcome="grace") == 1


def test_redis_calls_count_their_time_and_failures_by_store() -> None:
    metrics, registry = _metrics()
    metrics.redis_call("sessions", 0.0001, failed=False)
    metrics.redis_call("sessions", 1.0, failed=True)
    metrics.redis_call("users", 0.002, failed=False)
    metrics.flush()

    assert _value(registry, "verifier_redis_call_duration_seconds_count", store="sessions") == 2
    assert _value(
        registry, "verifier_redis_call_duration_seconds_sum", store="sessions"
    ) == pytest.approx(1.0001)
    assert _value(registry, "verifier_redis_call_duration_seconds_count", store="users") == 1
    assert (
        _value(registry, "verifier_redis_call_duration_seconds_bucket", store="users", le="0.001")
        == 0
    )
    assert (
        _value(registry, "verifier_redis_call_duration_seconds_bucket", store="users", le="0.0025")
        == 1
    )
    assert _value(registry, "verifier_redis_errors_total", store="sessions") == 1
    assert _value(registry, "verifier_redis_errors_total", store="users") == 0
    # Every store's series exists from the start (0), so a rate() never starts from nothing.
    assert _value(registry, "verifier_redis_call_duration_seconds_count", store="cli") == 0


def test_flushed_histogram_matches_one_observe_per_value() -> None:
    # The flush adds to prometheus-client's own bucket values: the figures must be those
    # observe() would have made, bucket edges included.
    values = [0.0, 0.00025, 0.000251, 0.001, 0.7, 1.0, 3.0, *LATENCY_BUCKETS_SECONDS]
    metrics, registry = _metrics()
    reference_registry = CollectorRegistry()
    reference = Histogram(
        "verifier_auth_duration_seconds",
        "reference",
        buckets=LATENCY_BUCKETS_SECONDS,
        registry=reference_registry,
    )
    for value in values:
        metrics.auth_answered("allowed", value)
        reference.observe(value)
    metrics.flush()

    def samples(source: CollectorRegistry) -> dict[tuple[str, str], float]:
        (family,) = [f for f in source.collect() if f.name == "verifier_auth_duration_seconds"]
        return {
            (sample.name, sample.labels.get("le", "")): sample.value
            for sample in family.samples
            if not sample.name.endswith("_created")
        }

    assert samples(registry) == pytest.approx(samples(reference_registry))


def test_every_label_value_comes_from_a_fixed_set() -> None:
    metrics, registry = _metrics()
    for outcome in AUTH_OUTCOMES:
        metrics.auth_answered(outcome, 0.001)
    for outcome in SIGNIN_OUTCOMES:
        metrics.signin(outcome)
    for event in TOKEN_EVENTS:
        metrics.api_tokens(event)
    for reason in (*TOKEN_REFUSALS, "a reason nobody listed"):
        metrics.api_token_refused(reason)
    metrics.flush()
    allowed = {
        "outcome": {*AUTH_OUTCOMES, "denied", *SIGNIN_OUTCOMES, "rotated", "grace"},
        "reason": {"", *DENIAL_REASONS, *TOKEN_REFUSALS, "other"},
        "event": set(TOKEN_EVENTS),
        "cause": {cause.value for cause in RevocationCause},
        "result": {"hit", "miss"},
        "store": set(REDIS_STORES),
        "le": {str(bound) for bound in LATENCY_BUCKETS_SECONDS} | {"+Inf"},
        "version": None,
        "python": None,
    }
    for family in registry.collect():
        assert family.name.startswith("verifier_")
        for sample in family.samples:
            for label, value in sample.labels.items():
                assert label in allowed, (family.name, label)
                values = allowed[label]
                assert values is None or value in values, (family.name, label, value)


def test_a_sign_in_outcome_outside_the_set_counts_as_other_not_a_new_label() -> None:
    metrics, registry = _metrics()
    metrics.signin("alice")
    metrics.signin("bad_code")
    with pytest.raises(KeyError):
        metrics.auth_answered("alice", 0.001)  # /auth outcomes are this package's constants
    metrics.flush()

    assert _value(registry, "verifier_signins_total", outcome="other") == 2

    labels = {
        sample.labels.get("outcome") for family in registry.collect() for sample in family.samples
    }
    assert "alice" not in labels


@given(st.text(max_size=80))
def test_any_rejection_reason_maps_to_a_bounded_label(reason: str) -> None:
    assert denial_reason(TokenRejected(reason)) in DENIAL_REASONS
    assert denial_reason(RefreshRejected(reason)) in DENIAL_REASONS


def test_rejection_reasons_of_either_token_are_told_apart() -> None:
    assert denial_reason(TokenRejected("malformed")) == "access_malformed"
    assert denial_reason(RefreshRejected("malformed")) == "refresh_malformed"
    assert denial_reason(TokenRejected("session ended")) == "session_ended"
    assert denial_reason(AccessTokenExpired()) == "access_bad_claims"
    assert denial_reason(RefreshRejected("something new")) == "other"


def test_build_info_names_the_version_and_python() -> None:
    _, registry = _metrics()

    (family,) = [f for f in registry.collect() if f.name == "verifier_build_info"]
    (sample,) = family.samples
    assert sample.value == 1
    assert set(sample.labels) == {"version", "python"}
    assert sample.labels["version"] != ""


def test_liveness_cache_counts_hits_and_misses() -> None:
    metrics, registry = _metrics()
    cache = LivenessCache(lambda: 1000.0, 5, metrics=metrics)
    cache.trust()
    cache.remember("alice", "s1", cache.epoch, ("staff",))

    assert cache.known_groups("alice", "s1") == ("staff",)
    assert cache.known_groups("alice", "s2") is None
    cache.distrust()
    assert cache.known_groups("alice", "s1") is None
    metrics.flush()

    assert _value(registry, "verifier_liveness_cache_lookups_total", result="hit") == 1
    assert _value(registry, "verifier_liveness_cache_lookups_total", result="miss") == 2


def test_revocation_channel_gauge_follows_the_cache_trust() -> None:
    metrics, registry = _metrics()
    cache = LivenessCache(lambda: 1000.0, 5, metrics=metrics)

    assert _value(registry, "verifier_revocation_channel_up") == 0
    cache.trust()
    assert _value(registry, "verifier_revocation_channel_up") == 1
    cache.distrust()
    assert _value(registry, "verifier_revocation_channel_up") == 0


def test_flusher_flushes_what_is_left_when_stopped() -> None:
    metrics, registry = _metrics()
    flusher = MetricsFlusher(metrics, interval_seconds=3600)

    async def run_and_stop() -> None:
        task = asyncio.create_task(flusher.run())
        await asyncio.sleep(0)
        metrics.signin("ok")
        flusher.stop()
        task.cancel()

    asyncio.run(run_and_stop())

    assert _value(registry, "verifier_signins_total", outcome="ok") == 1


def test_flusher_flushes_every_interval() -> None:
    metrics, registry = _metrics()
    flusher = MetricsFlusher(metrics, interval_seconds=0.001)

    async def run_until_flushed() -> float | None:
        task = asyncio.create_task(flusher.run())
        metrics.signin("busy")
        # Waits for the condition, not for a time: the loop flushes on its own.
        while _value(registry, "verifier_signins_total", outcome="busy") == 0:
            await asyncio.sleep(0.001)
        task.cancel()
        return _value(registry, "verifier_signins_total", outcome="busy")

    assert asyncio.run(asyncio.wait_for(run_until_flushed(), timeout=30)) == 1


def test_no_metrics_accepts_every_call() -> None:
    metrics = NoMetrics()
    metrics.auth_answered("allowed", 0.1)
    metrics.auth_denied(RefreshRejected("no token"), 0.1)
    metrics.refreshed(rotated=True)
    metrics.replay_detected()
    metrics.revoked(RevocationCause.ADMIN, 2)
    metrics.signin("ok")
    metrics.redis_call("users", 0.1, failed=False)
    metrics.liveness_lookup(hit=True)
    metrics.revocation_channel(up=True)
    metrics.flush()


def test_every_store_label_names_one_module_and_every_module_has_its_own() -> None:
    # Each store module times its calls under a name of its own (guard_for at import).
    package = Path(verifier.__file__).parent
    named = [
        match.group(1)
        for source in package.rglob("*.py")
        for match in re.finditer(r'guard_for\("([a-z_]+)"\)', source.read_text("utf-8"))
    ]
    assert sorted(named) == sorted(REDIS_STORES)


def test_token_refusals_count_by_reason_and_an_unlisted_one_as_other() -> None:
    metrics, registry = _metrics()
    metrics.api_token_refused("expired")
    metrics.api_token_refused("expired")
    metrics.api_token_refused("a reason nobody listed")
    metrics.api_tokens("created", 3)
    metrics.api_tokens("revoked", 0)
    metrics.flush()

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("verifier_api_token_refusals_total", reason="expired") == 2
    assert value("verifier_api_token_refusals_total", reason="other") == 1
    assert value("verifier_api_tokens_total", event="created") == 3
    assert value("verifier_api_tokens_total", event="revoked") == 0


def test_a_refused_bearer_token_counts_as_a_bearer_denial_whatever_its_reason() -> None:
    assert denial_reason(BearerRefused("unknown")) == "bearer_refused"
    assert denial_reason(BearerRefused("owner_disabled")) == "bearer_refused"
    assert denial_reason(BearerThrottled(30)) == "bearer_throttled"
