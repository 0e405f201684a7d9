"""Sessions of OpenID Provider users against a real provider: Back-Channel Logout 1.0 ends the
sessions a logout token names on every worker at once (and refuses a replayed or forged
token), a user deleted at the provider loses every session within one refresh interval, and a
provider outage logs nobody out while new sign-ins through it fail closed."""

from __future__ import annotations

import jwt
import pytest
import requests
from conftest import Stack
from cryptography.hazmat.primitives.asymmetric import rsa
from e2e_helpers import (
    TIMEOUT,
    all_log_lines,
    every_worker_admits,
    every_worker_denies,
    set_cookie_headers,
    wait_until,
)
from oidc_fixtures import (
    CLIENT_ID,
    PROVIDER_ID,
    OidcWorld,
    callback_url,
    sign_in,
    sign_in_at_provider,
)
from upstream_fixtures import audit_records, session_keys

from verifier.demo.processes import add_user

pytestmark = pytest.mark.one_nginx

BACKCHANNEL = f"/auth/oidc/{PROVIDER_ID}/backchannel-logout"
EVENT = "http://schemas.openid.net/event/backchannel-logout"
# Longer than any re-check waits here: a session that still answers was not re-checked.
DEADLINE_SECONDS = 20.0


def api(stack: Stack, session: requests.Session) -> requests.Response:
    """GET /api/whoami as an API client: 200 with the identity, or 401."""
    return session.get(
        stack.url("/api/whoami"), headers={"Accept": "application/json"}, timeout=TIMEOUT
    )


def signed_in(world: OidcWorld, sub: str) -> requests.Session:
    """A browser signed in through the provider (a provider session of its own)."""
    browser = world.stack.new_session()
    answer = sign_in(browser, world.stack, sub)
    assert answer.status_code == 303, answer.text[:300]
    return browser


def cookie_of(browser: requests.Session) -> str:
    """The browser's cookies as one Cookie header."""
    return "; ".join(f"{name}={value}" for name, value in browser.cookies.items())


def session_field(stack: Stack, user: str, field: str) -> dict[str, str]:
    """{session key: that field} for each of the user's sessions."""
    return {key: stack.redis.hget(key, field) for key in session_keys(stack, user)}  # type: ignore[misc]


def post_logout_token(stack: Stack, token: str) -> requests.Response:
    """POST a logout token to the back-channel path, as the provider does."""
    return requests.post(stack.url(BACKCHANNEL), data={"logout_token": token}, timeout=TIMEOUT)


def test_a_backchannel_logout_ends_the_session_its_sid_names_on_every_worker(
    oidc: OidcWorld,
) -> None:
    stack = oidc.stack
    first = signed_in(oidc, "sub-ophelia")
    second = signed_in(oidc, "sub-ophelia")
    every_worker_admits(stack, cookie_of(first))
    # Two provider sessions, one sid each.
    assert len(set(session_field(stack, "ophelia", "upstream_sid").values())) >= 2
    first_sid = _sid_of(stack, first)

    oidc.provider.send_backchannel_logout("sub-ophelia", first_sid)

    every_worker_denies(stack, cookie_of(first), "the session the logout token named")
    assert api(stack, second).status_code == 200
    assert audit_records(stack, "oidc.backchannel_logout", by="sid", sessions=1)
    assert audit_records(stack, "session.revoked", user="ophelia", cause="backchannel_logout")


def _sid_of(stack: Stack, browser: requests.Session) -> str:
    # The session whose access cookie this browser holds: its `sid` claim is our session id.
    access = browser.cookies["verifier-access"]
    session_id = jwt.decode(access, options={"verify_signature": False})["sid"]
    key = f"{stack.key_prefix}:{{ophelia}}:session:{session_id}"
    sid: str = stack.redis.hget(key, "upstream_sid")  # type: ignore[assignment]
    return sid


def test_a_replayed_logout_token_is_refused_with_400(oidc: OidcWorld) -> None:
    stack = oidc.stack
    browser = signed_in(oidc, "sub-ophelia")
    oidc.provider.send_backchannel_logout("sub-ophelia", _sid_of(stack, browser))
    token = oidc.provider.logout_tokens()[-1]

    answer = post_logout_token(stack, token)

    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
    assert audit_records(stack, "oidc.backchannel_refused", reason="jti_replayed")


def forged(claims: dict[str, object], kid: str = "test-rs256") -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, "typ": "logout+jwt"})


@pytest.mark.parametrize("kind", ["wrong_key", "unknown_kid", "alg_none", "id_token", "garbage"])
def test_a_forged_logout_token_is_refused_with_400_and_ends_nothing(
    oidc: OidcWorld, kind: str
) -> None:
    stack = oidc.stack
    browser = signed_in(oidc, "sub-ophelia")
    session_id = jwt.decode(
        browser.cookies["verifier-access"], options={"verify_signature": False}
    )["sid"]
    key = f"{stack.key_prefix}:{{ophelia}}:session:{session_id}"
    claims = {
        "iss": oidc.provider.issuer,
        "aud": CLIENT_ID,
        "iat": 2_000_000_000 - 10**9,
        "exp": 4_000_000_000,
        "jti": f"forged-{kind}",
        "sid": stack.redis.hget(key, "upstream_sid"),
        "events": {EVENT: {}},
    }
    token = {
        "wrong_key": lambda: forged(claims),
        "unknown_kid": lambda: forged(claims, kid="unknown"),
        "alg_none": lambda: jwt.encode(claims, None, algorithm="none"),
        "id_token": lambda: str(stack.redis.hget(key, "upstream_id_token")),
        "garbage": lambda: "not.a.token",
    }[kind]()

    answer = post_logout_token(stack, token)

    assert answer.status_code == 400
    assert stack.redis.exists(key) == 1
    assert api(stack, browser).status_code == 200


def test_a_backchannel_post_without_a_token_is_refused_with_4xx(oidc: OidcWorld) -> None:
    stack = oidc.stack
    assert (
        requests.post(stack.url(BACKCHANNEL), data={"x": "1"}, timeout=TIMEOUT).status_code == 400
    )
    assert (
        requests.post(
            stack.url(BACKCHANNEL),
            data="x",
            timeout=TIMEOUT,
            headers={"Content-Type": "text/plain"},
        ).status_code
        == 415
    )


def test_a_user_deleted_at_the_provider_loses_every_session_within_one_refresh_interval(
    own_oidc: OidcWorld,
) -> None:
    stack = own_oidc.stack
    first = signed_in(own_oidc, "sub-otto")
    second = signed_in(own_oidc, "sub-otto")
    assert api(stack, first).status_code == 200

    own_oidc.provider.delete_account("sub-otto")

    wait_until(
        lambda: api(stack, first).status_code == 401,
        "otto's session refused after the provider deleted him",
        DEADLINE_SECONDS,
    )
    assert session_keys(stack, "otto") == []
    assert api(stack, second).status_code == 401
    (ended,) = audit_records(stack, "upstream.user_ended", user="otto")
    assert ended["source"] == f"oidc:{PROVIDER_ID}"
    assert audit_records(stack, "session.revoked", user="otto", cause="upstream")


def test_a_provider_outage_keeps_live_sessions_and_fails_new_sign_ins_closed(
    own_oidc: OidcWorld,
) -> None:
    stack = own_oidc.stack
    live = signed_in(own_oidc, "sub-oscar")
    # A sign-in under way when the provider goes down.
    midway = stack.new_session()
    redirect = sign_in_at_provider(midway, stack, "sub-olivia")
    add_user(stack.env, "oidc-outage-local", "a-local-password-1")

    own_oidc.provider.stop()

    # Live sessions keep working across re-checks that cannot reach the provider.
    def rechecked_and_kept() -> bool:
        kept = api(stack, live).status_code == 200
        lines = all_log_lines(stack)
        return kept and any("re-check of oscar through oidc:op failed" in line for line in lines)

    wait_until(
        rechecked_and_kept, "a re-check of oscar's session during the outage", DEADLINE_SECONDS
    )
    assert api(stack, live).status_code == 200
    assert session_keys(stack, "oscar")
    # New sign-ins through the provider fail closed, with a clear page and no cookie.
    start = stack.new_session().get(
        stack.url(f"/auth/oidc/{PROVIDER_ID}/start"), allow_redirects=False, timeout=TIMEOUT
    )
    assert start.status_code == 503
    assert start.headers["Retry-After"] == "30"
    assert "cannot be reached" in start.text
    assert set_cookie_headers(start) == []
    finish = midway.get(callback_url(redirect), allow_redirects=False, timeout=TIMEOUT)
    assert finish.status_code == 503
    assert not [c for c in set_cookie_headers(finish) if c.startswith("verifier-access=")]
    assert session_keys(stack, "olivia") == []
    # Local users are not affected.
    assert api(stack, stack.login("oidc-outage-local", "a-local-password-1")).status_code == 200


def test_a_backchannel_logout_naming_only_the_user_ends_their_sessions_of_that_provider(
    oidc: OidcWorld,
) -> None:
    stack = oidc.stack
    assert oidc.second is not None
    first = stack.new_session()
    second = stack.new_session()
    for browser in (first, second):
        assert sign_in(browser, stack, "sub-pia", provider_id="op2").status_code == 303

    oidc.second.send_backchannel_logout("sub-pia")

    every_worker_denies(stack, cookie_of(first), "pia's first session")
    every_worker_denies(stack, cookie_of(second), "pia's second session")
    assert session_keys(stack, "pia") == []
    assert audit_records(stack, "oidc.backchannel_logout", source="oidc:op2", by="sub")
