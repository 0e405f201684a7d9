"""verifier.keyring.ring and .loader: which key signs and which verify, at injected times."""

from __future__ import annotations

import math

import pytest

from verifier.keyring.loader import ring_policy, static_ring
from verifier.keyring.material import Key, KeyUse
from verifier.keyring.ring import CurrentRing, KeyRing, KeyState, RingPolicy
from verifier.settings import Settings, SigningKey

T0 = 1_700_000_000
ACCESS_WINDOW = 300
ASSERTION_WINDOW = 60
POLICY = RingPolicy(access_verify_seconds=ACCESS_WINDOW, assertion_verify_seconds=ASSERTION_WINDOW)


def key(
    kid: str,
    activates_at: int,
    use: KeyUse = "access",
    *,
    created: int = T0,
    retired_at: int | None = None,
) -> Key:
    # Material does not matter to the ring's choices.
    secret = None if retired_at is not None else b"s" * 40
    alg = "HS256" if use == "access" else "EdDSA"
    return Key(kid, use, alg, created, activates_at, secret=secret, retired_at=retired_at)


def signer(ring: KeyRing, now: float, use: KeyUse = "access") -> str | None:
    found = ring.signing_key(use, now)
    return None if found is None else found.kid


def state(ring: KeyRing, kid: str, now: float) -> KeyState:
    entry = ring.entry(kid)
    assert entry is not None
    return entry.state(now)


def verifies(ring: KeyRing, kid: str, now: float, use: KeyUse = "access") -> bool:
    entry = ring.lookup(use, kid)
    return entry is not None and entry.verifies(now)


def test_a_key_signs_from_its_activation_on() -> None:
    ring = KeyRing([key("a", T0)], POLICY)

    assert signer(ring, T0 - 1) is None
    assert state(ring, "a", T0 - 1) is KeyState.PENDING
    assert verifies(ring, "a", T0 - 1)  # a pending key is already accepted
    assert signer(ring, T0) == "a"
    assert state(ring, "a", T0 + 10**9) is KeyState.SIGNING


def test_rotation_moves_signing_at_activation_and_keeps_the_old_key_for_one_window() -> None:
    rotation = T0 + 100
    ring = KeyRing([key("b", rotation, created=T0 + 1), key("a", T0)], POLICY)

    # Before activation: the old key signs, the new one is pending but already verifies.
    assert signer(ring, rotation - 1) == "a"
    assert state(ring, "b", rotation - 1) is KeyState.PENDING
    assert verifies(ring, "b", rotation - 1)
    # From activation: the new key signs; the old one verifies what it signed before.
    assert signer(ring, rotation) == "b"
    assert state(ring, "a", rotation) is KeyState.VERIFYING
    assert verifies(ring, "a", rotation + ACCESS_WINDOW - 1)
    # One window later every token of the old key has expired: it verifies nothing.
    assert not verifies(ring, "a", rotation + ACCESS_WINDOW)
    assert state(ring, "a", rotation + ACCESS_WINDOW) is KeyState.EXPIRED
    entry = ring.lookup("access", "a")
    assert entry is not None
    assert entry.superseded_at == rotation
    assert entry.verifies_until == rotation + ACCESS_WINDOW


def test_windows_are_per_use() -> None:
    ring = KeyRing(
        [
            key("a1", T0),
            key("a2", T0 + 10),
            key("s1", T0, "assertion"),
            key("s2", T0 + 10, "assertion"),
        ],
        POLICY,
    )
    assert verifies(ring, "a1", T0 + 10 + ASSERTION_WINDOW, "access")
    assert not verifies(ring, "s1", T0 + 10 + ASSERTION_WINDOW, "assertion")


def test_a_kid_is_only_found_under_its_own_use() -> None:
    ring = KeyRing([key("a", T0), key("s", T0, "assertion")], POLICY)
    assert ring.lookup("access", "s") is None
    assert ring.lookup("assertion", "a") is None
    assert ring.lookup("access", "missing") is None


def test_equal_activation_times_are_broken_by_creation_then_by_the_order_given() -> None:
    by_created = KeyRing([key("new", T0, created=T0 + 5), key("old", T0, created=T0)], POLICY)
    by_order = KeyRing([key("first", T0), key("second", T0)], POLICY)
    assert signer(by_created, T0) == "new"
    assert signer(by_order, T0) == "second"


def test_the_jwks_lists_pending_signing_and_verifying_assertion_keys_only() -> None:
    ring = KeyRing(
        [
            key("s1", T0, "assertion"),
            key("s2", T0 + 100, "assertion"),
            key("s3", T0 + 200, "assertion"),
            key("s4", T0 + 300, "assertion"),
            key("withdrawn", T0 + 150, "assertion", retired_at=T0 + 120),
            key("a1", T0),
        ],
        POLICY,
    )
    now = T0 + 250  # s1 expired, s2 verifying (until 260), s3 signing, s4 pending

    published = [found.kid for found in ring.published(now)]

    assert published == ["s2", "s3", "s4"]
    assert [found.kid for found in ring.published(T0 + 260)] == ["s3", "s4"]


def test_a_key_withdrawn_while_pending_supersedes_nothing() -> None:
    ring = KeyRing([key("a", T0), key("b", T0 + 100, retired_at=T0 + 50)], POLICY)

    assert signer(ring, T0 + 1000) == "a"
    assert state(ring, "a", T0 + 1000) is KeyState.SIGNING
    assert state(ring, "b", T0 + 1000) is KeyState.RETIRED
    assert not verifies(ring, "b", T0 + 60)


def test_a_withdrawn_key_verifies_nothing_and_its_tombstone_lasts_one_window() -> None:
    ring = KeyRing([key("a", T0), key("b", T0 + 100), key("c", T0 + 200)], POLICY)
    withdrawn = KeyRing(
        [key("a", T0), key("b", T0 + 100, retired_at=T0 + 210), key("c", T0 + 200)], POLICY
    )

    assert verifies(ring, "b", T0 + 210)
    assert not verifies(withdrawn, "b", T0 + 210)
    entry = withdrawn.entry("b")
    assert entry is not None
    # It stopped signing when c took over, so its last tokens expire one window after that.
    assert entry.tokens_expire_by == T0 + 200 + ACCESS_WINDOW


def test_withdrawing_a_verifying_key_does_not_bring_an_older_one_back() -> None:
    keys = [key("a", T0), key("b", T0 + 100), key("c", T0 + 1000)]
    now = T0 + 1010
    before = KeyRing(keys, POLICY)
    after = KeyRing([keys[0], key("b", T0 + 100, retired_at=now), keys[2]], POLICY)

    assert state(before, "a", now) is KeyState.EXPIRED
    # b did sign (from T0+100): a stays superseded from then on.
    assert state(after, "a", now) is KeyState.EXPIRED
    assert signer(after, now) == "c"


def test_a_kid_given_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="appears twice"):
        KeyRing([key("a", T0), key("a", T0 + 1, "assertion")], POLICY)


def test_entries_come_by_use_then_activation() -> None:
    ring = KeyRing([key("s1", T0, "assertion"), key("a2", T0 + 5), key("a1", T0)], POLICY)
    assert [entry.key.kid for entry in ring.entries()] == ["a1", "a2", "s1"]


def test_current_ring_swaps_whole_rings() -> None:
    first = KeyRing([key("a", T0)], POLICY)
    second = KeyRing([key("b", T0)], POLICY)
    current = CurrentRing(first)
    current.swap(second)
    assert current.ring is second


# --- loader: the static ring of VERIFIER_JWT_KEYS, and the windows from the settings -------------


def test_static_ring_signs_with_the_first_key_and_verifies_every_key_forever() -> None:
    ring = static_ring([SigningKey("new", b"n" * 40), SigningKey("old", b"o" * 40)])
    assert signer(ring, T0) == "new"
    assert verifies(ring, "old", T0 + 10**9)
    assert ring.signing_key("assertion", T0) is None
    assert ring.published(T0) == ()


def test_windows_are_the_token_lifetimes_plus_leeway() -> None:
    settings = Settings(
        redis_url="redis://127.0.0.1:6379/0",
        signing_keys=(SigningKey("k", b"k" * 40),),
        access_ttl_seconds=120,
        jwt_leeway_seconds=5,
        assertion_ttl_seconds=30,
    )
    assert ring_policy(settings) == RingPolicy(
        access_verify_seconds=125, assertion_verify_seconds=35
    )
    assert math.isinf(static_ring(settings.signing_keys).policy.access_verify_seconds)
