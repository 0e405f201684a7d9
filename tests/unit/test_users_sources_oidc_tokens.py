"""The id_token and logout token rules (verifier.users.sources.oidc_tokens), with keys made here
and an injected clock: each check bites on its own."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from verifier.users.sources.oidc_tokens import (
    BACKCHANNEL_EVENT,
    JwksCache,
    TokenRefused,
    TokenRules,
    checked_id_token,
    checked_logout_token,
)

NOW = 1_800_000_000.0
ISSUER = "https://op.example"
CLIENT = "verifier"
RULES = TokenRules(ISSUER, CLIENT, ("RS256",), skew_seconds=30, max_age_seconds=600)
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks_of(*pairs: tuple[str, Any]) -> dict[str, Any]:
    keys = []
    for kid, private in pairs:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
        keys.append({**jwk, "kid": kid, "use": "sig"})
    return {"keys": keys}


class Fetches:
    """A JWKS endpoint that counts its calls."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.calls = 0

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return self.document


def cache(clock: list[float] | None = None) -> JwksCache:
    ticks = clock if clock is not None else [0.0]
    return JwksCache(Fetches(jwks_of(("k1", KEY))), clock=lambda: ticks[0])


def claims(**overrides: Any) -> dict[str, Any]:
    base = {
        "iss": ISSUER,
        "aud": CLIENT,
        "sub": "sub-1",
        "iat": int(NOW) - 5,
        "exp": int(NOW) + 300,
        "nonce": "n-1",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def signed(payload: dict[str, Any], key: Any = KEY, kid: str = "k1", alg: str = "RS256") -> str:
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


def check(raw: str, keys: JwksCache | None = None, nonce: str | None = "n-1") -> dict[str, Any]:
    return asyncio.run(checked_id_token(raw, RULES, keys or cache(), nonce, NOW))


def refused(raw: str, **kwargs: Any) -> str:
    with pytest.raises(TokenRefused) as caught:
        check(raw, **kwargs)
    return caught.value.reason


def test_a_good_id_token_passes() -> None:
    assert check(signed(claims()))["sub"] == "sub-1"


def test_alg_none_is_refused_even_when_the_token_says_so() -> None:
    raw = jwt.encode(claims(), None, algorithm="none", headers={"kid": "k1"})
    assert refused(raw) == "algorithm"


def test_an_hmac_keyed_with_anything_is_refused() -> None:
    raw = jwt.encode(claims(), "client-secret" * 4, algorithm="HS256", headers={"kid": "k1"})
    assert refused(raw) == "algorithm"


def test_an_algorithm_not_pinned_for_the_provider_is_refused() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    assert refused(signed(claims(), ec_key, alg="ES256")) == "algorithm"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"aud": "someone-else"}, "audience"),
        ({"iss": "https://evil.example"}, "issuer"),
        ({"nonce": "n-2"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"exp": int(NOW) - 31}, "expired"),
        ({"exp": None}, "missing_exp"),
        ({"iat": None}, "missing_iat"),
        ({"iat": int(NOW) + 120}, "issued_in_future"),
        ({"iat": int(NOW) - 700}, "stale"),
        ({"sub": ""}, "sub"),
        ({"aud": [CLIENT, "other"]}, "azp"),
        ({"aud": [CLIENT, "other"], "azp": "other"}, "azp"),
        ({"events": {BACKCHANNEL_EVENT: {}}}, "logout_token_as_id_token"),
    ],
)
def test_each_claim_check_bites(overrides: dict[str, Any], reason: str) -> None:
    assert refused(signed(claims(**overrides))) == reason


def test_several_audiences_pass_when_azp_is_ours() -> None:
    assert check(signed(claims(aud=[CLIENT, "other"], azp=CLIENT)))["azp"] == CLIENT


def test_a_tampered_signature_is_refused() -> None:
    head, body, signature = signed(claims()).split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert refused(f"{head}.{body}.{flipped}") == "signature"


def test_a_token_signed_by_another_key_under_a_known_kid_is_refused() -> None:
    assert refused(signed(claims(), OTHER_KEY)) == "signature"


def test_an_unknown_kid_refetches_the_jwks_at_most_once_per_cooldown() -> None:
    ticks = [0.0]
    fetches = Fetches(jwks_of(("k1", KEY)))
    keys = JwksCache(fetches, clock=lambda: ticks[0], cooldown_seconds=60)
    check(signed(claims()), keys)
    assert fetches.calls == 1

    for _ in range(5):
        assert refused(signed(claims(), OTHER_KEY, kid="k2"), keys=keys) == "unknown_kid"
    assert fetches.calls == 1  # still within the cooldown of the first fetch

    ticks[0] = 61.0
    fetches.document = jwks_of(("k1", KEY), ("k2", OTHER_KEY))
    assert check(signed(claims(), OTHER_KEY, kid="k2"), keys)["sub"] == "sub-1"
    assert fetches.calls == 2


def test_a_refreshed_id_token_needs_no_nonce() -> None:
    assert check(signed(claims(nonce=None)), nonce=None)["sub"] == "sub-1"


def logout(**overrides: Any) -> dict[str, Any]:
    base = {
        "iss": ISSUER,
        "aud": CLIENT,
        "sub": "sub-1",
        "sid": "sid-1",
        "iat": int(NOW) - 1,
        "exp": int(NOW) + 120,
        "jti": "jti-1",
        "events": {BACKCHANNEL_EVENT: {}},
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def logout_refused(payload: dict[str, Any]) -> str:
    with pytest.raises(TokenRefused) as caught:
        asyncio.run(checked_logout_token(signed(payload), RULES, cache(), NOW))
    return caught.value.reason


def test_a_good_logout_token_passes() -> None:
    found = asyncio.run(checked_logout_token(signed(logout()), RULES, cache(), NOW))
    assert (found["sid"], found["jti"]) == ("sid-1", "jti-1")


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"events": None}, "events"),
        ({"events": {"other": {}}}, "events"),
        ({"nonce": "n"}, "nonce_in_logout_token"),
        ({"sub": None, "sid": None}, "no_sub_or_sid"),
        ({"jti": None}, "missing_jti"),
        ({"exp": None}, "missing_exp"),
        ({"aud": "other"}, "audience"),
        ({"iss": "https://evil.example"}, "issuer"),
    ],
)
def test_each_logout_token_check_bites(overrides: dict[str, Any], reason: str) -> None:
    assert logout_refused(logout(**overrides)) == reason
