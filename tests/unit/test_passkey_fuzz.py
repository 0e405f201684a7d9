"""Property tests of the passkey POSTs (Falcon test client, real redis-server): garbage
answers, bodies and cookies get a clean 4xx, never a 5xx, and never a session cookie.

The same shape as test_second_factor_fuzz.py: one app with a relying party, one user with
a passkey (registered by a software authenticator), a live pending sign-in for that user, a
signed-in session, and a fresh challenge before each example so garbage reaches the checks.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from typing import Any

import falcon.testing
import pytest
import redis.asyncio as aioredis
from falcon.util import async_to_sync
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.soft_authenticator import SoftAuthenticator
from verifier.app import create_app
from verifier.settings import Settings, SigningKey
from verifier.store.keyspace import KeySpace
from verifier.users.passwords import PasswordHasher
from verifier.users.store import UserStore
from verifier.web.cookies import CookiePolicy

FUZZ = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
POLICY = CookiePolicy(secure=True)
ORIGIN = "https://login.example.com"
REFUSALS = {400, 401, 403, 404, 409, 413, 415, 429}
# Each answer endpoint, the options endpoint that gives its challenge, and which cookie
# binds it: the pending sign-in, the session, or the passwordless cookie of the options.
ANSWERS = {
    "/auth/login/factor/passkey": ("/auth/login/factor/passkey/options", "pending"),
    "/auth/account/passkeys/register": ("/auth/account/passkeys/options", "session"),
    "/auth/login/passkey": ("/auth/login/passkey/options", "passwordless"),
}


@dataclass(frozen=True)
class Harness:
    """The app and the cookies of a pending sign-in and of a signed-in session."""

    client: falcon.testing.TestClient
    pending_cookie: str
    session_cookie: str
    soft: SoftAuthenticator


def _token_cookies(result: falcon.testing.Result) -> str:
    cookies = {c.name: c.value for c in result.cookies.values()}
    return "; ".join(
        f"{name}={cookies[name]}" for name in (POLICY.access_name, POLICY.refresh_name)
    )


def _json_post(
    client: falcon.testing.TestClient, path: str, body: Any, cookie: str
) -> falcon.testing.Result:
    return client.simulate_post(
        path, json=body, headers={"Accept": "application/json", "Cookie": cookie}
    )


@pytest.fixture(scope="module")
def harness(redis_url: str) -> Harness:
    app_settings = Settings(
        redis_url=redis_url,
        signing_keys=(SigningKey("fuzz", b"passkey-fuzz-".ljust(48, b"x")),),
        key_prefix=f"fuzzpk-{secrets.token_hex(4)}",
        login_max_failures_per_account=1_000_000,
        login_max_failures_per_address=1_000_000,
        webauthn_rp_id="example.com",
        webauthn_origins=(ORIGIN,),
    )
    client = aioredis.Redis.from_url(redis_url)
    hasher = PasswordHasher()
    app = create_app(app_settings, client, hasher=hasher)
    users = UserStore(client, KeySpace(app_settings.key_prefix), hasher)
    user, password = "holder", secrets.token_urlsafe(24)
    async_to_sync(users.add, user, password)
    test_client = falcon.testing.TestClient(app)
    signed_in = test_client.simulate_post(
        "/auth/login", json={"username": user, "password": password}
    )
    assert signed_in.status_code == 200, signed_in.text
    session_cookie = _token_cookies(signed_in)
    soft = SoftAuthenticator(origin=ORIGIN, rp_id="example.com")
    options = _json_post(
        test_client, "/auth/account/passkeys/options", {"name": "k"}, session_cookie
    )
    answer = soft.register(options.json["publicKey"])
    registered = _json_post(
        test_client, "/auth/account/passkeys/register", {"credential": answer}, session_cookie
    )
    assert registered.status_code == 200, registered.text
    started = test_client.simulate_post(
        "/auth/login", json={"username": user, "password": password}
    )
    assert started.status_code == 202, started.text
    pending = started.cookies[POLICY.pending_name].value
    return Harness(
        client=test_client,
        pending_cookie=f"{POLICY.pending_name}={pending}",
        session_cookie=session_cookie,
        soft=soft,
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=30), st.binary(max_size=40).map(_b64)
)
credential_like = st.fixed_dictionaries(
    {
        "id": scalars,
        "rawId": scalars,
        "type": st.sampled_from(["public-key", "x", ""]),
        "response": st.dictionaries(
            st.sampled_from(
                [
                    "clientDataJSON",
                    "authenticatorData",
                    "signature",
                    "userHandle",
                    "attestationObject",
                    "transports",
                ]
            ),
            st.one_of(scalars, st.lists(scalars, max_size=3)),
            max_size=6,
        ),
    }
)
json_documents = st.one_of(
    st.builds(lambda credential: {"credential": credential}, credential_like),
    st.dictionaries(st.sampled_from(["credential", "name", "next", "x"]), scalars, max_size=3),
    st.lists(scalars, max_size=3),
    scalars,
)
bodies = st.one_of(
    json_documents.map(lambda document: ("application/json", json.dumps(document).encode())),
    st.tuples(
        st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain"]),
        st.binary(max_size=200),
    ),
)


def _no_session_cookie(result: falcon.testing.Result) -> bool:
    names = {c.name for c in result.cookies.values() if c.value}
    return not names & {POLICY.access_name, POLICY.refresh_name}


def _cookie(harness: Harness, binding: str, options_path: str) -> str:
    # A fresh challenge first, so the garbage meets a live one.
    if binding == "pending":
        _json_post(harness.client, options_path, {}, harness.pending_cookie)
        return harness.pending_cookie
    if binding == "session":
        _json_post(harness.client, options_path, {"name": "fuzz"}, harness.session_cookie)
        return harness.session_cookie
    started = _json_post(harness.client, options_path, {}, "")
    return f"{POLICY.passkey_name}={started.cookies[POLICY.passkey_name].value}"


@FUZZ
@given(body=bodies, path=st.sampled_from(sorted(ANSWERS)), live=st.booleans())
def test_passkey_answers_never_err_or_sign_in_on_garbage(
    harness: Harness, body: tuple[str, bytes], path: str, live: bool
) -> None:
    content_type, raw = body
    options_path, binding = ANSWERS[path]
    cookie = _cookie(harness, binding, options_path) if live else "x=1"

    result = harness.client.simulate_post(
        path,
        body=raw,
        headers={"Content-Type": content_type, "Accept": "application/json", "Cookie": cookie},
    )

    assert result.status_code in REFUSALS, (result.status_code, result.text)
    assert _no_session_cookie(result)


@FUZZ
@given(body=bodies, path=st.sampled_from(sorted(options for options, _ in ANSWERS.values())))
def test_passkey_options_never_err_or_sign_in_on_garbage(
    harness: Harness, body: tuple[str, bytes], path: str
) -> None:
    content_type, raw = body
    cookie = f"{harness.pending_cookie}; {harness.session_cookie}"

    result = harness.client.simulate_post(
        path,
        body=raw,
        headers={"Content-Type": content_type, "Accept": "application/json", "Cookie": cookie},
    )

    # 200 is a fresh challenge (options for anything parseable): never a session.
    assert result.status_code in REFUSALS | {200}, (result.status_code, result.text)
    assert _no_session_cookie(result)
