"""Property tests of the whole app (Falcon test client, real redis-server): garbage in, a
clean denial out. Never a 5xx, never a 2xx from /auth, never a session ended by a forgery.

test_parsers_fuzz.py fuzzes the parsers one by one; this fuzzes what they add up to, with a
real Redis behind the session checks: /auth with arbitrary and token-shaped cookies in any
method, logout with forged proofs of a live session, login with arbitrary bodies, and the
unauthorized page with arbitrary original URIs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import string
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import parse_qs, unquote, urlsplit

import falcon.testing
import pytest
import redis.asyncio as aioredis
from falcon.util import async_to_sync
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifier.app import create_app
from verifier.settings import Settings, SigningKey
from verifier.store.keyspace import USER_NAME_PATTERN, KeySpace
from verifier.users.passwords import PasswordHasher
from verifier.users.store import UserStore
from verifier.web.cookies import CookiePolicy

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SLOW_FUZZ = settings(FUZZ, max_examples=80)

KID = "fuzz"
SECRET = b"auth-fuzz-secret-".ljust(48, b"x")
POLICY = CookiePolicy(secure=True)
BASE64URL = string.ascii_letters + string.digits + "-_"
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
VERIFIER_ANSWER_HEADERS = (
    "x-verifier-user",
    "x-verifier-session",
    "x-verifier-set-access-cookie",
    "x-verifier-set-refresh-cookie",
    "x-verifier-upstream-cookie",
)


@dataclass(frozen=True)
class Harness:
    """The app under test, and a live session it must never give away or end."""

    client: falcon.testing.TestClient
    user: str
    session_id: str
    refresh: str
    access: str

    def session_is_live(self) -> bool:
        cookie = f"{POLICY.access_name}={self.access}"
        return self.client.simulate_get("/auth", headers={"Cookie": cookie}).status_code == 204


@pytest.fixture(scope="module")
def harness(redis_url: str) -> Harness:
    app_settings = Settings(
        redis_url=redis_url,
        signing_keys=(SigningKey(KID, SECRET),),
        access_ttl_seconds=600,
        key_prefix=f"fuzz-{secrets.token_hex(4)}",
        login_max_failures_per_account=1_000_000,
        login_max_failures_per_address=1_000_000,
        # The test client runs the ASGI lifespan around every request, so the revocation
        # listener starts and stops each time: the cached path is fuzzed too, and a listener
        # that failed to stop would hang this test.
        liveness_cache_seconds=5,
    )
    client = aioredis.Redis.from_url(redis_url)
    hasher = PasswordHasher()
    # The clock stands still at the sign-in: however long the fuzzing takes on a slow machine,
    # the session is as fresh as when it signed in, so max_age=1 (a minute) never asks for a
    # new sign-in and every 401 below is the mfa step-up.
    signed_in_at = time.time()
    app = create_app(app_settings, client, hasher=hasher, clock=lambda: signed_in_at)
    user, password = "victim", secrets.token_urlsafe(24)
    # The test client runs every request on one shared event loop; so does this.
    async_to_sync(UserStore(client, KeySpace(app_settings.key_prefix), hasher).add, user, password)
    test_client = falcon.testing.TestClient(app)
    login = test_client.simulate_post("/auth/login", json={"username": user, "password": password})
    assert login.status_code == 200, login.text
    cookies = {c.name: c.value for c in login.cookies.values()}
    harness = Harness(
        client=test_client,
        user=user,
        session_id=login.json["session"],
        refresh=cookies[POLICY.refresh_name],
        access=cookies[POLICY.access_name],
    )
    assert harness.session_is_live()
    return harness


# --- strategies -------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
headers_json = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["HS256", "none", "None", "HS512", "RS256", "ES256", ""])
        | json_values,
        "typ": st.sampled_from(["at+jwt", "JWT", ""]) | json_values,
        "kid": st.sampled_from([KID, "other", "../fuzz", ""]) | json_values,
        "jku": st.just("http://127.0.0.1:1/jwks.json"),
        "jwk": st.just({"kty": "oct", "k": _b64(b"attacker")}),
    },
)
claims_json = st.fixed_dictionaries(
    {},
    optional={
        "iss": st.sampled_from(["verifier", "evil"]) | json_values,
        "aud": st.sampled_from(["verifier", ["verifier"], "evil"]) | json_values,
        "sub": st.sampled_from(["victim", "admin"]) | json_values,
        # Never the live session's id: any admission below is a bug, not a lucky guess.
        "sid": st.text(BASE64URL, min_size=22, max_size=22) | json_values,
        "iat": st.integers(min_value=0, max_value=2**34) | json_values,
        "exp": st.integers(min_value=0, max_value=2**34) | json_values,
        "nbf": st.integers(min_value=0, max_value=2**34) | json_values,
        "amr": st.sampled_from([["pwd"], ["pwd", "otp"], ["hwk", "pin"], ["evil"], []])
        | json_values,
        "auth_time": st.integers(min_value=0, max_value=2**34) | json_values,
    },
)


@st.composite
def token_shaped(draw: st.DrawFn) -> str:
    header = _b64(json.dumps(draw(headers_json)).encode())
    payload = _b64(json.dumps(draw(claims_json)).encode())
    signing_input = f"{header}.{payload}"
    signature = draw(
        st.sampled_from(["real-key", "empty", "random", "empty-key"]).map(
            lambda kind: {
                "real-key": _b64(hmac.new(SECRET, signing_input.encode(), hashlib.sha256).digest()),
                "empty-key": _b64(hmac.new(b"", signing_input.encode(), hashlib.sha256).digest()),
                "empty": "",
                "random": _b64(secrets.token_bytes(32)),
            }[kind]
        )
    )
    return f"{signing_input}.{signature}"


refresh_shaped = st.builds(
    lambda user, sid, secret: f"{user}.{sid}.{secret}",
    st.sampled_from(["victim", "admin", "VICTIM", "{victim}", "*"]),
    st.text(BASE64URL, min_size=20, max_size=24),
    st.text(BASE64URL, min_size=41, max_size=45),
)
cookie_values = st.one_of(
    token_shaped(),
    refresh_shaped,
    st.text(
        st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=";"), max_size=80
    ),
)
cookie_names = st.sampled_from(
    [POLICY.access_name, POLICY.refresh_name, "verifier-access", "verifier-refresh", "theme"]
)
cookie_headers = st.one_of(
    st.lists(st.tuples(cookie_names, cookie_values), max_size=4).map(
        lambda pairs: "; ".join(f"{name}={value}" for name, value in pairs)
    ),
    # Anything a header may carry, as Latin-1 text (what an ASGI server hands the app).
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=200),
)


def _assert_denied_cleanly(result: falcon.testing.Result) -> None:
    assert result.status_code == 401, (result.status_code, result.text)
    assert not {name for name in VERIFIER_ANSWER_HEADERS if name in result.headers}


# --- properties -------------------------------------------------------------------------------


@FUZZ
@given(cookie=cookie_headers, method=st.sampled_from(METHODS))
def test_auth_denies_any_cookie_header_cleanly(harness: Harness, cookie: str, method: str) -> None:
    result = harness.client.simulate_request(method, "/auth", headers={"Cookie": cookie})

    _assert_denied_cleanly(result)


@FUZZ
@given(access=token_shaped(), refresh=refresh_shaped)
def test_auth_denies_token_shaped_garbage_in_both_cookies(
    harness: Harness, access: str, refresh: str
) -> None:
    cookie = f"{POLICY.access_name}={access}; {POLICY.refresh_name}={refresh}"

    _assert_denied_cleanly(harness.client.simulate_get("/auth", headers={"Cookie": cookie}))


@FUZZ
@given(secret=st.text(BASE64URL, min_size=43, max_size=43))
def test_auth_denies_guessed_secrets_for_the_live_session_without_ending_it(
    harness: Harness, secret: str
) -> None:
    guess = f"{harness.user}.{harness.session_id}.{secret}"
    cookie = f"{POLICY.refresh_name}={guess}"

    _assert_denied_cleanly(harness.client.simulate_get("/auth", headers={"Cookie": cookie}))
    assert harness.session_is_live()


@FUZZ
@given(access=token_shaped(), refresh=refresh_shaped, everywhere=st.booleans())
def test_logout_with_forged_proofs_never_ends_the_live_session(
    harness: Harness, access: str, refresh: str, everywhere: bool
) -> None:
    # The forgeries name the live session outright where the shape allows it.
    named_refresh = refresh.replace("victim", harness.user, 1)
    cookie = f"{POLICY.access_name}={access}; {POLICY.refresh_name}={named_refresh}"

    result = harness.client.simulate_post(
        "/auth/logout",
        params={"all": "1"} if everywhere else None,
        headers={"Cookie": cookie, "Accept": "application/json"},
    )

    assert result.status_code == 200, result.text
    assert result.json["sessions_ended"] == 0
    assert harness.session_is_live()


login_bodies = st.one_of(
    st.builds(
        lambda fields: ("application/json", json.dumps(fields).encode()),
        st.dictionaries(
            st.sampled_from(["username", "password", "next", "extra"]),
            json_values,
            max_size=4,
        ),
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


@SLOW_FUZZ
@given(body=login_bodies)
def test_login_never_errs_or_signs_anyone_in_on_garbage(
    harness: Harness, body: tuple[str, bytes]
) -> None:
    content_type, raw = body

    result = harness.client.simulate_post(
        "/auth/login",
        body=raw,
        headers={"Content-Type": content_type, "Accept": "application/json"},
    )

    assert result.status_code in {400, 401, 413, 415, 429}, (result.status_code, result.text)
    assert "set-cookie" not in result.headers


@FUZZ
@given(
    uri=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60),
    navigation=st.booleans(),
)
def test_unauthorized_always_points_at_a_same_site_login(
    harness: Harness, uri: str, navigation: bool
) -> None:
    headers = {"X-Original-URI": uri}
    headers["Accept"] = "text/html" if navigation else "application/json"

    result = harness.client.simulate_get("/auth/unauthorized", headers=headers)

    login_url = result.headers["location"] if navigation else result.json["login_url"]
    assert result.status_code == (302 if navigation else 401)
    parts = urlsplit(login_url)
    assert (parts.scheme, parts.netloc, parts.path) == ("", "", "/auth/login")
    for next_path in parse_qs(parts.query).get("next", []):
        for form in (next_path, unquote(next_path)):
            assert form.startswith("/")
            assert not form.startswith("//")
            assert "\\" not in form


FORBIDDEN_PAGE_TAGS = {
    "html", "head", "meta", "title", "link", "body", "header", "main", "h1", "p", "strong", "code",
    "form", "button",
}  # fmt: skip


class _TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)


def _tags(html: str) -> set[str]:
    collector = _TagCollector()
    collector.feed(html)
    return collector.tags


latin1_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=120)
declarations = st.one_of(
    st.lists(
        st.sampled_from(
            [
                "user:victim",
                "group:admins",
                "user:other",
                "admins",
                "mfa",
                "max_age=1",
                "max_age=0",
                "max_age=x",
                "max_age=",
                ",",
            ]
        ),
        max_size=4,
    ).map(" ".join),
    latin1_text,
)


@FUZZ
@given(
    declaration=declarations,
    path=latin1_text,
    uri=latin1_text,
    host=latin1_text,
    method=latin1_text,
)
def test_auth_decides_any_access_description_with_204_401_or_403_only(
    harness: Harness, declaration: str, path: str, uri: str, host: str, method: str
) -> None:
    result = harness.client.simulate_get(
        "/auth",
        headers={
            "Cookie": f"{POLICY.access_name}={harness.access}",
            "X-Verifier-Require": declaration,
            "X-Original-Path": path,
            "X-Original-URI": uri,
            "X-Original-Method": method,
            "Host": host,
        },
    )

    assert result.status_code in {204, 401, 403}, (result.status_code, result.text)
    if result.status_code == 401:
        # A password session at a location asking for mfa: a step-up, always named.
        assert result.headers["x-verifier-step-up"] == "mfa"
        assert "mfa" in declaration
    else:
        assert "x-verifier-step-up" not in result.headers
    if result.status_code in {401, 403}:
        # Who was refused (for the "no access" page), and nothing the app would get.
        assert result.headers["x-verifier-user"] == harness.user
        assert "x-verifier-session" not in result.headers
        assert "x-verifier-assertion" not in result.headers


@FUZZ
@given(uri=latin1_text, step=latin1_text | st.sampled_from(["mfa", "max_age"]), json=st.booleans())
def test_unauthorized_with_any_step_up_header_points_at_a_same_site_login(
    harness: Harness, uri: str, step: str, json: bool
) -> None:
    headers = {"X-Original-URI": uri, "X-Verifier-Step-Up": step}
    headers["Accept"] = "application/json" if json else "text/html"

    result = harness.client.simulate_get("/auth/unauthorized", headers=headers)

    assert result.status_code == (401 if json else 302)
    login_url = result.json["login_url"] if json else result.headers["location"]
    parts = urlsplit(login_url)
    assert (parts.scheme, parts.netloc, parts.path) == ("", "", "/auth/login")
    query = parse_qs(parts.query)
    # Only a step the verifier knows is passed on; anything else is a plain sign-in.
    assert query.get("step_up", []) == ([step] if step in {"mfa", "max_age"} else [])
    if json:
        assert result.json.get("step_up") == (login_url if "step_up" in query else None)


@FUZZ
@given(uri=latin1_text, user=latin1_text, navigation=st.booleans())
def test_forbidden_is_always_a_403_that_echoes_nothing_raw(
    harness: Harness, uri: str, user: str, navigation: bool
) -> None:
    headers = {"X-Original-URI": uri, "X-Verifier-User": user}
    headers["Accept"] = "text/html" if navigation else "application/json"

    result = harness.client.simulate_get("/auth/forbidden", headers=headers)

    assert result.status_code == 403
    assert "location" not in result.headers
    if navigation:
        # Whatever was sent, the page has exactly its own elements: nothing was injected.
        assert _tags(result.text) <= FORBIDDEN_PAGE_TAGS
    else:
        shown = result.json["user"]
        assert shown is None or USER_NAME_PATTERN.fullmatch(shown)


def test_the_live_session_survived_the_fuzzing(harness: Harness) -> None:
    assert harness.session_is_live()
