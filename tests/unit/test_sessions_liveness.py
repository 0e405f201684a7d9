"""LivenessCache: what it trusts, what it forgets, and the race with a revocation."""

from __future__ import annotations

from verifier.sessions.liveness import LivenessCache, token_entry


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _trusted_cache(clock: Clock, max_age: float = 5.0, max_entries: int = 100) -> LivenessCache:
    cache = LivenessCache(clock, max_age, max_entries)
    cache.trust()
    return cache


def test_nothing_is_cached_until_the_channel_is_confirmed() -> None:
    cache = LivenessCache(Clock(), 5.0)
    cache.remember("alice", "s1", cache.epoch)
    assert not cache.is_known_live("alice", "s1")


def test_remembered_session_is_live_until_its_max_age() -> None:
    clock = Clock()
    cache = _trusted_cache(clock)
    cache.remember("alice", "s1", cache.epoch)
    assert cache.is_known_live("alice", "s1")
    clock.now += 5.0
    assert not cache.is_known_live("alice", "s1")


def test_session_revocation_forgets_only_that_session() -> None:
    cache = _trusted_cache(Clock())
    cache.remember("alice", "s1", cache.epoch)
    cache.remember("alice", "s2", cache.epoch)
    cache.apply("s alice s1")
    assert not cache.is_known_live("alice", "s1")
    assert cache.is_known_live("alice", "s2")


def test_user_revocation_forgets_every_session_of_that_user_only() -> None:
    cache = _trusted_cache(Clock())
    for session_id in ("s1", "s2"):
        cache.remember("alice", session_id, cache.epoch)
    cache.remember("bob", "s3", cache.epoch)
    cache.apply("u alice")
    assert not cache.is_known_live("alice", "s1")
    assert not cache.is_known_live("alice", "s2")
    assert cache.is_known_live("bob", "s3")


def test_user_change_forgets_what_was_cached_for_that_user_only() -> None:
    cache = _trusted_cache(Clock())
    cache.remember("alice", "s1", cache.epoch)
    cache.remember("bob", "s2", cache.epoch)
    cache.apply("g alice")
    assert not cache.is_known_live("alice", "s1")
    assert cache.is_known_live("bob", "s2")


def test_answer_from_before_a_revocation_is_not_cached() -> None:
    cache = _trusted_cache(Clock())
    epoch = cache.epoch  # the check asks Redis...
    cache.apply("s alice s1")  # ...the session is revoked meanwhile...
    cache.remember("alice", "s1", epoch)  # ...and Redis's stale "live" comes back
    assert not cache.is_known_live("alice", "s1")


def test_losing_the_channel_forgets_everything_and_stops_caching() -> None:
    cache = _trusted_cache(Clock())
    cache.remember("alice", "s1", cache.epoch)
    epoch = cache.epoch
    cache.distrust()
    assert not cache.is_known_live("alice", "s1")
    cache.remember("alice", "s1", epoch)
    assert not cache.is_known_live("alice", "s1")


def test_reconnecting_starts_from_empty() -> None:
    cache = _trusted_cache(Clock())
    epoch = cache.epoch
    cache.distrust()
    cache.trust()
    cache.remember("alice", "s1", epoch)  # began before the channel came back
    assert not cache.is_known_live("alice", "s1")


def test_unknown_message_forgets_everything() -> None:
    cache = _trusted_cache(Clock())
    cache.remember("alice", "s1", cache.epoch)
    cache.apply("x something")
    assert not cache.is_known_live("alice", "s1")


def test_cache_stays_bounded() -> None:
    cache = _trusted_cache(Clock(), max_entries=3)
    for index in range(10):
        cache.remember("alice", f"s{index}", cache.epoch)
    live = [i for i in range(10) if cache.is_known_live("alice", f"s{i}")]
    assert 1 <= len(live) <= 3
    assert 9 in live


def test_zero_max_age_caches_nothing() -> None:
    cache = _trusted_cache(Clock(), max_age=0)
    cache.remember("alice", "s1", cache.epoch)
    assert not cache.is_known_live("alice", "s1")


def test_a_token_entry_is_forgotten_by_its_revocation_and_by_its_owners_end() -> None:
    cache = _trusted_cache(Clock())
    cache.remember("bot", token_entry("0123456789abcdef"), cache.epoch, ("ops",))
    cache.remember("bot", token_entry("fedcba9876543210"), cache.epoch, ("ops",))
    cache.remember("bot", "s1", cache.epoch)
    cache.apply("k bot 0123456789abcdef")
    assert cache.known_groups("bot", token_entry("0123456789abcdef")) is None
    assert cache.known_groups("bot", token_entry("fedcba9876543210")) == ("ops",)
    assert cache.is_known_live("bot", "s1")
    cache.apply("u bot")
    assert cache.known_groups("bot", token_entry("fedcba9876543210")) is None


def test_a_token_id_never_names_a_session_of_the_same_user() -> None:
    cache = _trusted_cache(Clock())
    cache.remember("bot", "0123456789abcdef", cache.epoch)  # a session id of that shape
    cache.apply("k bot 0123456789abcdef")
    assert cache.is_known_live("bot", "0123456789abcdef")


def test_an_entry_with_its_own_end_is_not_vouched_for_past_it() -> None:
    clock = Clock()
    cache = _trusted_cache(clock, max_age=60.0)
    cache.remember("bot", token_entry("0123456789abcdef"), cache.epoch, not_after=clock.now + 5)
    cache.remember("bot", "s1", cache.epoch, not_after=clock.now + 600)
    clock.now += 5
    assert cache.known_groups("bot", token_entry("0123456789abcdef")) is None
    assert cache.is_known_live("bot", "s1")  # the cache's own age is the shorter there
    clock.now += 55
    assert not cache.is_known_live("bot", "s1")
