"""X-Auth-Assertion end to end: nginx hands the app a signed identity, and the demo app, which
verifies it against /.well-known/jwks.json, trusts nothing else."""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from e2e_helpers import PAGE_HEADERS, TIMEOUT, cookie_header, get_page, sign_in, wait_until
from keyring_helpers import fetch_jwks
from session_helpers import two_factor_cookie

if TYPE_CHECKING:
    from conftest import Stack, StackFactory


def _signed_in(stack: Stack, *groups: str) -> tuple[str, str]:
    name, password = f"assert-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    options = [option for group in groups for option in ("--group", group)]
    assert stack.cli("users", "add", name, *options, stdin=password + "\n").returncode == 0
    signed = sign_in(stack, name, password)
    return name, cookie_header(stack, signed.access, signed.refresh)


def _assertion_seen_by_the_app(stack: Stack, cookie: str) -> str:
    headers = get_page(stack, "/api/headers", cookie=cookie).json()
    assertion: str = headers["x-auth-assertion"]
    return assertion


def _verified(stack: Stack, assertion: str, audience: str) -> dict[str, Any]:
    jwk = jwt.PyJWKSet.from_dict(fetch_jwks(stack).json())[
        jwt.get_unverified_header(assertion)["kid"]
    ]
    claims: dict[str, Any] = jwt.decode(
        assertion, jwk, algorithms=["EdDSA"], audience=audience, issuer="verifier"
    )
    return claims


def test_the_app_gets_an_assertion_that_verifies_against_the_published_keys(
    stack: Stack,
) -> None:
    name, cookie = _signed_in(stack, "ops", "admins")
    session_id = cookie.rsplit(".", 2)[1]

    assertion = _assertion_seen_by_the_app(stack, cookie)
    claims = _verified(stack, assertion, "app")

    assert jwt.get_unverified_header(assertion)["alg"] == "EdDSA"
    assert set(claims) == {"iss", "aud", "sub", "groups", "sid", "amr", "auth_time", "iat", "exp"}
    assert (claims["sub"], claims["sid"], claims["groups"]) == (name, session_id, ["admins", "ops"])
    # How and when the user signed in: a password, at the sign-in just made.
    assert claims["amr"] == ["pwd"]
    assert claims["auth_time"] <= claims["iat"]
    assert 0 < claims["exp"] - claims["iat"] <= 60
    assert claims["iat"] <= time.time() + 1


def test_the_demo_app_trusts_the_verified_assertion_not_the_headers(stack: Stack) -> None:
    name, cookie = _signed_in(stack, "ops")

    whoami = get_page(stack, "/api/whoami", cookie=cookie, **{"X-Auth-User": "root"})

    assert whoami.status_code == 200
    body = whoami.json()
    assert (body["user"], body["groups"], body["verified"]) == (name, ["ops"], True)
    assert body["claims"]["aud"] == "app"


def test_the_demo_app_shows_a_user_without_groups_with_an_empty_list(stack: Stack) -> None:
    # As the assertion says: `"groups": []`, never null.
    name, cookie = _signed_in(stack)

    whoami = get_page(stack, "/api/whoami", cookie=cookie)

    assert whoami.status_code == 200
    body = whoami.json()
    assert (body["user"], body["groups"], body["claims"]["groups"]) == (name, [], [])


def test_a_location_can_ask_for_its_own_audience(stack: Stack) -> None:
    # /admin/ asks admins for a second factor too (`group:admins mfa`).
    name, _cookie = _signed_in(stack, "admins")
    cookie = two_factor_cookie(stack, name)

    page = get_page(stack, "/admin/", cookie=cookie, **PAGE_HEADERS)

    assert page.status_code == 200
    assert f'<dd id="user">{name}</dd>' in page.text
    assert "audience\n<code>admin-area</code>" in page.text


def test_the_app_refuses_a_request_without_an_assertion_whatever_its_headers_say(
    stack: Stack,
) -> None:
    # Straight to the app, as a client that found a way around nginx would.
    response = requests.get(
        stack.app_url + "/api/whoami",
        headers={"X-Auth-User": "root", "X-Auth-Groups": "admins"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 401
    assert response.json() == {"error": "no identity assertion"}


def test_the_app_refuses_a_forged_assertion(stack: Stack) -> None:
    _, cookie = _signed_in(stack)
    genuine = _assertion_seen_by_the_app(stack, cookie)
    header = jwt.get_unverified_header(genuine)
    claims = jwt.decode(genuine, options={"verify_signature": False})
    claims["groups"] = ["admins"]
    forged = jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers=header)

    response = requests.get(
        stack.app_url + "/api/whoami", headers={"X-Auth-Assertion": forged}, timeout=TIMEOUT
    )

    assert response.status_code == 401
    assert response.json() == {"error": "identity assertion refused: InvalidSignatureError"}


def test_an_assertion_for_one_audience_is_refused_by_another_location(stack: Stack) -> None:
    _, cookie = _signed_in(stack, "admins")
    for_the_app = _assertion_seen_by_the_app(stack, cookie)  # aud "app"

    replayed = requests.get(
        stack.app_url + "/admin/",
        headers={"X-Auth-Assertion": for_the_app, **PAGE_HEADERS},
        timeout=TIMEOUT,
    )

    assert replayed.status_code == 401
    assert replayed.json() == {"error": "identity assertion refused: InvalidAudienceError"}


def test_an_expired_assertion_is_refused(fresh_stack: StackFactory) -> None:
    stack = fresh_stack(VERIFIER_ASSERTION_TTL_SECONDS="1")
    _, cookie = _signed_in(stack)
    assertion = _assertion_seen_by_the_app(stack, cookie)

    def replayed() -> requests.Response:
        return requests.get(
            stack.app_url + "/api/whoami", headers={"X-Auth-Assertion": assertion}, timeout=TIMEOUT
        )

    # It lives one second: wait for the app's own clock to pass its exp. The refusal names
    # the expiry, not the signature: the assertion was genuine.
    wait_until(lambda: replayed().status_code == 401, "the app to refuse the expired assertion")
    assert replayed().json() == {"error": "identity assertion refused: ExpiredSignatureError"}
