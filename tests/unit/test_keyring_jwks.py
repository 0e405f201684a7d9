"""verifier.keyring.jwks and the /.well-known/jwks.json resource: content and caching."""

from __future__ import annotations

import falcon.asgi
import falcon.testing
import jwt

from verifier.keyring.assertion import AssertionSigner
from verifier.keyring.jwks import JwkSet, public_jwk
from verifier.keyring.material import generate_key
from verifier.keyring.ring import CurrentRing, KeyRing, RingPolicy
from verifier.resources.jwks import JWKS_PATH, Jwks

NOW = 1_700_000_000
POLICY = RingPolicy(access_verify_seconds=300, assertion_verify_seconds=60)


def test_okp_and_ec_keys_export_their_public_half_only() -> None:
    ed25519 = generate_key("assertion", "EdDSA", NOW, NOW)
    p256 = generate_key("assertion", "ES256", NOW, NOW)

    okp, ec = public_jwk(ed25519), public_jwk(p256)

    assert set(okp) == {"kty", "crv", "x", "kid", "alg", "use"}
    assert (okp["kty"], okp["crv"], okp["alg"], okp["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
    assert set(ec) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
    assert (ec["kty"], ec["crv"], ec["alg"], ec["use"]) == ("EC", "P-256", "ES256", "sig")
    assert okp["kid"] == ed25519.kid


def test_the_set_verifies_what_the_signer_signs_across_a_rotation() -> None:
    old = generate_key("assertion", "EdDSA", NOW, NOW)
    new = generate_key("assertion", "ES256", NOW + 1, NOW + 100)
    current = CurrentRing(KeyRing([old, new, generate_key("access", "HS256", NOW, NOW)], POLICY))
    signer = AssertionSigner(current, "verifier", "app", 60)
    jwks = JwkSet(current)

    # Published before it signs: a set fetched before the rotation knows the new key.
    fetched_before = jwt.PyJWKSet.from_dict(jwks.document(NOW + 1))
    for now in (NOW + 50, NOW + 100, NOW + 150):
        token = signer.assertion("alice", ("staff",), "s", "app", now)
        assert token is not None
        kid = jwt.get_unverified_header(token)["kid"]
        signing_jwk = fetched_before[kid]
        claims = jwt.decode(
            token,
            signing_jwk,
            algorithms=[signing_jwk.algorithm_name],
            audience="app",
            options={"verify_exp": False},
        )
        assert claims["sub"] == "alice"


def test_no_access_key_and_no_expired_key_is_ever_published() -> None:
    old = generate_key("assertion", "EdDSA", NOW, NOW)
    new = generate_key("assertion", "EdDSA", NOW + 1, NOW + 100)
    access = generate_key("access", "HS256", NOW, NOW)
    jwks = JwkSet(CurrentRing(KeyRing([old, new, access], POLICY)))

    assert [k["kid"] for k in jwks.document(NOW)["keys"]] == [old.kid, new.kid]
    assert [k["kid"] for k in jwks.document(NOW + 160)["keys"]] == [new.kid]
    assert JwkSet(CurrentRing(KeyRing([access], POLICY))).document(NOW) == {"keys": []}


def test_a_reloaded_ring_is_served_at_once() -> None:
    first = generate_key("assertion", "EdDSA", NOW, NOW)
    second = generate_key("assertion", "EdDSA", NOW, NOW)
    current = CurrentRing(KeyRing([first], POLICY))
    jwks = JwkSet(current)
    assert [k["kid"] for k in jwks.document(NOW)["keys"]] == [first.kid]

    current.swap(KeyRing([second], POLICY))

    assert [k["kid"] for k in jwks.document(NOW)["keys"]] == [second.kid]


def test_resource_serves_the_set_as_public_cacheable_json() -> None:
    key = generate_key("assertion", "EdDSA", NOW, NOW)
    app = falcon.asgi.App()
    app.add_route(JWKS_PATH, Jwks(JwkSet(CurrentRing(KeyRing([key], POLICY))), lambda: NOW, 120))
    client = falcon.testing.TestClient(app)

    got = client.simulate_get(JWKS_PATH)
    head = client.simulate_head(JWKS_PATH)

    assert got.status_code == 200
    assert got.headers["Cache-Control"] == "public, max-age=120"
    assert got.headers["Content-Type"].startswith("application/json")
    assert got.json == {"keys": [public_jwk(key)]}
    assert head.status_code == 200
    assert head.headers["Cache-Control"] == "public, max-age=120"
    assert head.content == b""
