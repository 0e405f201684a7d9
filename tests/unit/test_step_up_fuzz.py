"""Property tests of the step-up POST (Falcon test client, real redis-server): garbage bodies
from a live session get a clean 4xx, never a 5xx, and never a cookie.

The shape of test_second_factor_fuzz.py: one app, a user with TOTP and one without, each with
a live password-only session, and hypothesis throwing bodies at both steps.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass

import falcon.testing
import pyotp
import pytest
import redis.asyncio as aioredis
from falcon.util import async_to_sync
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifier.app import create_app
from verifier.factors.user_factors import UserFactors
from verifier.sessions.store import SessionPolicy, SessionStore
from verifier.settings import Settings, SigningKey
from verifier.store.keyspace import KeySpace
from verifier.users.passwords import PasswordHasher
from verifier.users.store import UserStore
from verifier.web.cookies import CookiePolicy

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
POLICY = CookiePolicy(secure=True)
SECRET = pyotp.random_base32()
FIELDS = ["code", "recovery_code", "password", "next", "username", "extra"]
# Refused before, or by, the check: nothing here is ever a right code or password.
REFUSALS = {400, 401, 409, 413, 415, 429}


@dataclass(frozen=True)
class Harness:
    """The app and the Cookie headers of two live sessions (with and without a factor)."""

    client: falcon.testing.TestClient
    enrolled_cookie: str
    plain_cookie: str


@pytest.fixture(scope="module")
def harness(redis_url: str) -> Harness:
    app_settings = Settings(
        redis_url=redis_url,
        signing_keys=(SigningKey("fuzz", b"step-up-fuzz-".ljust(48, b"x")),),
        key_prefix=f"fuzzsu-{secrets.token_hex(4)}",
        login_max_failures_per_account=1_000_000,
        login_max_failures_per_address=1_000_000,
    )
    client = aioredis.Redis.from_url(redis_url)
    hasher = PasswordHasher()
    app = create_app(app_settings, client, hasher=hasher)
    keys = KeySpace(app_settings.key_prefix)
    users = UserStore(client, keys, hasher)
    password = secrets.token_urlsafe(24)
    async_to_sync(users.add, "enrolled", password)
    async_to_sync(users.add, "plain", password)
    async_to_sync(UserFactors(client, keys).set_totp, "enrolled", SECRET)
    store = SessionStore(
        client,
        keys,
        SessionPolicy(
            idle_seconds=3600, absolute_seconds=7200, grace_seconds=10, max_sessions_per_user=5
        ),
        time.time,
    )

    def refresh_cookie(user: str) -> str:
        session = async_to_sync(store.create, user)
        return f"{POLICY.refresh_name}={session.refresh_token}"

    return Harness(
        client=falcon.testing.TestClient(app),
        enrolled_cookie=refresh_cookie("enrolled"),
        plain_cookie=refresh_cookie("plain"),
    )


json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=40),
    st.lists(st.text(max_size=5), max_size=2),
    st.sampled_from(["123456", "abcd-efgh-ijkl-mnop", "\x00", "x" * 100, "//evil.example"]),
)
bodies = st.one_of(
    st.builds(
        lambda fields: ("application/json", json.dumps(fields).encode()),
        st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4),
    ),
    st.builds(
        lambda body: ("application/x-www-form-urlencoded", body),
        st.binary(max_size=200),
    ),
    st.tuples(
        st.sampled_from(["application/json", "text/plain", "multipart/form-data", ""]),
        st.binary(max_size=200),
    ),
)


@FUZZ
@given(
    body=bodies,
    step=st.sampled_from(["mfa", "max_age"]),
    enrolled=st.booleans(),
    next_value=st.text(max_size=30),
)
def test_the_step_up_post_never_errs_or_sets_a_cookie_on_garbage(
    harness: Harness, body: tuple[str, bytes], step: str, enrolled: bool, next_value: str
) -> None:
    content_type, raw = body
    cookie = harness.enrolled_cookie if enrolled else harness.plain_cookie

    result = harness.client.simulate_post(
        "/auth/login",
        params={"step_up": step, "next": next_value},
        body=raw,
        headers={"Content-Type": content_type, "Accept": "application/json", "Cookie": cookie},
    )

    assert result.status_code in REFUSALS, (result.status_code, result.text)
    assert "set-cookie" not in result.headers
