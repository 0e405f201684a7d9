"""/.well-known/jwks.json through nginx: public, cacheable, and it verifies real assertions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests
from e2e_helpers import new_user, set_cookie_headers, sign_in
from keyring_helpers import CachingJwksApp, DirectorySigner, fetch_jwks, max_age_seconds

from verifier.keyring.files import read_key_directory
from verifier.resources.jwks import JWKS_PATH

if TYPE_CHECKING:
    from conftest import Stack


def test_jwks_lists_the_assertion_key_and_nothing_secret(stack: Stack) -> None:
    keys = read_key_directory(stack.keys_dir).keys
    (assertion_key,) = [key for key in keys if key.use == "assertion"]

    response = fetch_jwks(stack)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    (jwk,) = response.json()["keys"]
    assert jwk["kid"] == assertion_key.kid
    assert (jwk["alg"], jwk["use"], jwk["kty"], jwk["crv"]) == ("EdDSA", "sig", "OKP", "Ed25519")
    assert set(jwk) == {"kid", "alg", "use", "kty", "crv", "x"}  # no "d": no private part
    assert stack.jwt_kid not in response.text  # access keys are never published


def test_jwks_is_publicly_cacheable_for_the_configured_max_age(stack: Stack) -> None:
    response = fetch_jwks(stack)

    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert max_age_seconds(response) == 300
    assert set_cookie_headers(response) == []


def test_jwks_needs_no_login_and_ignores_the_client_cookies(stack: Stack) -> None:
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    with_cookies = requests.get(
        stack.url(JWKS_PATH),
        headers={"Cookie": f"{stack.access_cookie}={signed.access}"},
        allow_redirects=False,
        timeout=10,
    )
    assert with_cookies.status_code == 200
    assert with_cookies.json() == fetch_jwks(stack).json()
    assert set_cookie_headers(with_cookies) == []


def test_jwks_answers_head_and_refuses_writes(stack: Stack) -> None:
    head = requests.head(stack.url(JWKS_PATH), timeout=10)
    post = requests.post(stack.url(JWKS_PATH), data="{}", timeout=10)

    assert head.status_code == 200
    assert head.headers["Cache-Control"] == "public, max-age=300"
    assert head.content == b""
    assert post.status_code == 403


def test_an_assertion_signed_from_the_keys_directory_verifies_with_the_jwks(stack: Stack) -> None:
    app = CachingJwksApp(stack)
    signer = DirectorySigner(stack)

    claims = app.verify(signer.assertion("alice", "session-1", ("staff",)))

    assert claims["sub"] == "alice"
    assert claims["sid"] == "session-1"
    assert claims["groups"] == ["staff"]
    assert claims["aud"] == "app"
    assert claims["iss"] == "verifier"
    assert claims["exp"] - claims["iat"] == 60
