"""verifier.keyring.assertion: claims, pinned header, and the cache, on an injected clock."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from verifier.factors.methods import SignIn
from verifier.keyring.assertion import ASSERTION_TYPE, AssertionSigner
from verifier.keyring.jwks import public_jwk
from verifier.keyring.material import Key, generate_key
from verifier.keyring.ring import CurrentRing, KeyRing, RingPolicy

NOW = 1_700_000_000
TTL = 60
POLICY = RingPolicy(access_verify_seconds=300, assertion_verify_seconds=TTL)
GROUPS = ("admins", "staff")


def ring_of(*keys: Key) -> KeyRing:
    return KeyRing(keys, POLICY)


def signer_for(current: CurrentRing, ttl: int = TTL, **options: Any) -> AssertionSigner:
    return AssertionSigner(current, "verifier", "app", ttl, **options)


def decode(token: str, key: Key, audience: str = "app", held: str = "sid") -> dict[str, Any]:
    """Verify as an app would: with the published JWK, the key's own algorithm only."""
    public = jwt.PyJWK.from_dict(public_jwk(key))
    claims: dict[str, Any] = jwt.decode(
        token,
        public,
        algorithms=[key.alg],
        audience=audience,
        issuer="verifier",
        options={"require": ["exp", "iat", "iss", "aud", "sub", held], "verify_exp": False},
    )
    return claims


@pytest.fixture
def key() -> Key:
    return generate_key("assertion", "EdDSA", NOW, NOW)


@pytest.fixture
def current(key: Key) -> CurrentRing:
    return CurrentRing(ring_of(key, generate_key("access", "HS256", NOW, NOW)))


def test_assertion_carries_the_identity_and_a_pinned_header(current: CurrentRing, key: Key) -> None:
    token = signer_for(current).assertion("alice", GROUPS, "sid-1", "app", NOW + 0.7)
    assert token is not None

    assert jwt.get_unverified_header(token) == {
        "alg": "EdDSA",
        "kid": key.kid,
        "typ": ASSERTION_TYPE,
    }
    assert decode(token, key) == {
        "iss": "verifier",
        "aud": "app",
        "sub": "alice",
        "groups": ["admins", "staff"],
        "sid": "sid-1",
        "iat": NOW,
        "exp": NOW + TTL,
    }


def test_es256_keys_sign_es256_assertions() -> None:
    es256 = generate_key("assertion", "ES256", NOW, NOW)
    token = signer_for(CurrentRing(ring_of(es256))).assertion("bob", (), "s", "app", NOW)
    assert token is not None
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    assert decode(token, es256)["groups"] == []


def test_no_assertion_key_means_no_assertion() -> None:
    only_access = CurrentRing(ring_of(generate_key("access", "HS256", NOW, NOW)))
    assert signer_for(only_access).assertion("alice", GROUPS, "s", "app", NOW) is None


def test_a_pending_key_signs_nothing_yet() -> None:
    pending = generate_key("assertion", "EdDSA", NOW, NOW + 30)
    signer = signer_for(CurrentRing(ring_of(pending)))
    assert signer.assertion("alice", GROUPS, "s", "app", NOW) is None
    assert signer.assertion("alice", GROUPS, "s", "app", NOW + 30) is not None


def test_the_audience_is_the_one_asked_for(current: CurrentRing, key: Key) -> None:
    signer = signer_for(current)
    for_billing = signer.assertion("alice", GROUPS, "s", "billing", NOW)
    for_app = signer.assertion("alice", GROUPS, "s", "app", NOW)
    assert for_billing is not None
    assert for_app is not None
    assert decode(for_billing, key, audience="billing")["aud"] == "billing"
    assert for_billing != for_app
    assert signer.default_audience == "app"


def test_an_empty_audience_means_the_default_one(current: CurrentRing, key: Key) -> None:
    signer = signer_for(current)
    token = signer.assertion("alice", GROUPS, "s", "", NOW)
    assert token is not None
    assert decode(token, key)["aud"] == "app"
    assert signer.assertion("alice", GROUPS, "s", "app", NOW) == token  # one cache entry


def test_assertion_is_reused_while_more_than_half_its_lifetime_remains(
    current: CurrentRing,
) -> None:
    signer = signer_for(current)
    first = signer.assertion("alice", GROUPS, "s", "app", NOW)

    assert signer.assertion("alice", GROUPS, "s", "app", NOW + TTL / 2 - 1) == first
    renewed = signer.assertion("alice", GROUPS, "s", "app", NOW + TTL / 2)
    assert renewed != first
    assert renewed is not None
    assert jwt.decode(renewed, options={"verify_signature": False})["iat"] == NOW + TTL // 2


def test_a_group_change_signs_a_new_assertion(current: CurrentRing, key: Key) -> None:
    signer = signer_for(current)
    before = signer.assertion("alice", ("staff",), "s", "app", NOW)
    after = signer.assertion("alice", ("admins", "staff"), "s", "app", NOW + 1)

    assert after is not None
    assert after != before
    assert decode(after, key)["groups"] == ["admins", "staff"]


def test_each_session_gets_its_own_assertion(current: CurrentRing) -> None:
    signer = signer_for(current)
    one = signer.assertion("alice", GROUPS, "s1", "app", NOW)
    two = signer.assertion("alice", GROUPS, "s2", "app", NOW)
    assert one != two


def test_rotation_signs_under_the_new_kid_at_its_activation(key: Key) -> None:
    successor = generate_key("assertion", "EdDSA", NOW, NOW + 10)
    signer = signer_for(CurrentRing(ring_of(key, successor)))
    before = signer.assertion("alice", GROUPS, "s", "app", NOW + 9)
    after = signer.assertion("alice", GROUPS, "s", "app", NOW + 10)

    assert before is not None
    assert after is not None
    assert jwt.get_unverified_header(before)["kid"] == key.kid
    # Well inside the half-life of `before`, yet signed anew: the kid is part of the cache key.
    assert jwt.get_unverified_header(after)["kid"] == successor.kid
    assert decode(after, successor)["sub"] == "alice"


def test_a_reloaded_ring_is_used_at_once(key: Key) -> None:
    current = CurrentRing(ring_of(key))
    signer = signer_for(current)
    first = signer.assertion("alice", GROUPS, "s", "app", NOW)
    replacement = generate_key("assertion", "EdDSA", NOW, NOW)

    current.swap(ring_of(replacement))
    second = signer.assertion("alice", GROUPS, "s", "app", NOW + 1)

    assert second is not None
    assert second != first
    assert jwt.get_unverified_header(second)["kid"] == replacement.kid


def test_a_clock_stepping_back_never_reuses_an_assertion_from_its_future(
    current: CurrentRing,
) -> None:
    signer = signer_for(current)
    later = signer.assertion("alice", GROUPS, "s", "app", NOW + 100)
    earlier = signer.assertion("alice", GROUPS, "s", "app", NOW)
    assert earlier is not None
    assert earlier != later
    assert jwt.decode(earlier, options={"verify_signature": False})["iat"] == NOW


def test_the_cache_is_bounded_and_evicts_the_oldest(current: CurrentRing) -> None:
    signer = signer_for(current, max_entries=2)
    first = signer.assertion("alice", GROUPS, "s1", "app", NOW)
    signer.assertion("alice", GROUPS, "s2", "app", NOW)
    third = signer.assertion("alice", GROUPS, "s3", "app", NOW)  # evicts s1's

    assert signer.assertion("alice", GROUPS, "s3", "app", NOW + 1) == third
    assert signer.assertion("alice", GROUPS, "s1", "app", NOW + 1) != first


@pytest.mark.parametrize("ttl", [0, 61])
def test_lifetimes_past_a_minute_are_refused(current: CurrentRing, ttl: int) -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        signer_for(current, ttl=ttl)


def test_assertion_says_how_and_when_the_user_signed_in(current: CurrentRing, key: Key) -> None:
    sign_in = SignIn(("pwd", "otp"), NOW - 120)
    token = signer_for(current).assertion("alice", GROUPS, "sid-1", "app", NOW, sign_in)
    assert token is not None
    claims = decode(token, key)
    assert (claims["amr"], claims["auth_time"]) == (["pwd", "otp"], NOW - 120)


def test_a_step_up_signs_a_new_assertion_at_once(current: CurrentRing, key: Key) -> None:
    signer = signer_for(current)
    before = signer.assertion("alice", GROUPS, "sid-1", "app", NOW, SignIn(("pwd",), NOW - 60))
    after = signer.assertion("alice", GROUPS, "sid-1", "app", NOW + 1, SignIn(("pwd", "otp"), NOW))
    assert before is not None and after is not None and after != before
    assert decode(after, key)["amr"] == ["pwd", "otp"]


def test_assertion_says_through_which_source_the_user_signed_in(
    current: CurrentRing, key: Key
) -> None:
    signer = signer_for(current)
    local = signer.assertion("alice", GROUPS, "sid-1", "app", NOW, SignIn(("pwd",), NOW))
    upstream = signer.assertion(
        "bob", GROUPS, "sid-2", "app", NOW, SignIn(("fed", "mfa"), NOW, "oidc:keycloak")
    )
    assert local is not None and upstream is not None
    assert decode(local, key)["source"] == "local"
    assert decode(upstream, key)["source"] == "oidc:keycloak"
    assert decode(upstream, key)["amr"] == ["fed", "mfa"]


def test_a_tokens_assertion_names_the_token_and_no_session_or_sign_in(
    current: CurrentRing, key: Key
) -> None:
    token = signer_for(current).assertion(
        "bot", GROUPS, "", "app", NOW, None, token_id="0123456789abcdef"
    )
    assert token is not None
    assert decode(token, key, held="token_id") == {
        "iss": "verifier",
        "aud": "app",
        "sub": "bot",
        "groups": ["admins", "staff"],
        "token_id": "0123456789abcdef",
        "iat": NOW,
        "exp": NOW + TTL,
    }


def test_two_tokens_of_one_owner_get_assertions_of_their_own(current: CurrentRing) -> None:
    signer = signer_for(current)
    first = signer.assertion("bot", GROUPS, "", "app", NOW, token_id="0123456789abcdef")
    second = signer.assertion("bot", GROUPS, "", "app", NOW, token_id="fedcba9876543210")
    session = signer.assertion("bot", GROUPS, "", "app", NOW)
    assert len({first, second, session}) == 3
