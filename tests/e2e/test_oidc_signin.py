"""Sign-in at a real OpenID Provider (panva's oidc-provider), through real nginx: the happy
path into one of our ordinary sessions, and every way a callback is refused, each with its
exact status and no session, no user record and no session cookie made."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from conftest import Stack
from e2e_helpers import TIMEOUT, set_cookie_headers
from oidc_fixtures import (
    CLIENT_ID,
    PROVIDER_ID,
    SECOND_ID,
    OidcWorld,
    callback_params,
    callback_url,
    sign_in,
    sign_in_at_provider,
)
from upstream_fixtures import audit_records, session_keys

from verifier.demo.processes import add_user

pytestmark = pytest.mark.one_nginx

CALLBACK = f"/auth/oidc/{PROVIDER_ID}/callback"


def api(stack: Stack, session: requests.Session) -> requests.Response:
    """GET /api/whoami as an API client: 200 with the identity, or 401."""
    return session.get(
        stack.url("/api/whoami"), headers={"Accept": "application/json"}, timeout=TIMEOUT
    )


def session_cookies(response: requests.Response) -> list[str]:
    """The access and refresh cookies a response set (none after a refusal)."""
    return [
        c
        for c in set_cookie_headers(response)
        if re.match(r"(__Host-)?verifier-(access|refresh)=.", c)
    ]


def user_record(stack: Stack, name: str) -> dict[str, str]:
    """The user's record in the stack's Redis ({} if none)."""
    record: dict[str, str] = stack.redis.hgetall(f"{stack.key_prefix}:{{{name}}}:user")  # type: ignore[assignment]
    return record


def test_a_provider_user_signs_in_through_nginx_into_an_ordinary_session(oidc: OidcWorld) -> None:
    stack = oidc.stack
    browser = stack.new_session()
    # The stack is shared: other tests may have signed olivia in before this one.
    earlier = set(session_keys(stack, "olivia"))

    answer = sign_in(browser, stack, "sub-olivia", next_path="/private/page?x=1")

    assert answer.status_code == 303
    assert answer.headers["Location"] == "/private/page?x=1"
    assert len(session_cookies(answer)) == 2
    # The flow's binding cookie is cleared at the callback.
    assert any(c.startswith("verifier-oidc=;") for c in set_cookie_headers(answer))
    identity = api(stack, browser).json()
    assert identity["user"] == "olivia"
    # Only mapped groups: Staff is our staff; "Provider Admins" cannot be a name here.
    assert identity["groups"] == ["staff"]
    record = user_record(stack, "olivia")
    assert record["source"] == f"oidc:{PROVIDER_ID}"
    assert record["source_id"] == "sub-olivia"
    (key,) = set(session_keys(stack, "olivia")) - earlier
    session = stack.redis.hgetall(key)
    assert session["source"] == f"oidc:{PROVIDER_ID}"
    assert session["amr"] == "fed"
    # The provider's tokens live in Redis only: never in a cookie or a header to the app.
    assert session["upstream_refresh_token"] and session["upstream_id_token"]
    assert session["upstream_sid"]
    for cookie in set_cookie_headers(answer):
        assert session["upstream_refresh_token"] not in cookie
    assert audit_records(stack, "signin.succeeded", user="olivia")


def test_the_authorization_request_carries_pkce_s256_state_nonce_and_a_host_cookie(
    oidc: OidcWorld,
) -> None:
    stack = oidc.stack
    start = stack.new_session().get(
        stack.url(f"/auth/oidc/{PROVIDER_ID}/start?next=/wiki"),
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert start.status_code == 303
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert len(query["state"][0]) == 43 and len(query["nonce"][0]) == 43
    assert query["client_id"] == [CLIENT_ID]
    (binding,) = [c for c in set_cookie_headers(start) if c.startswith("verifier-oidc=")]
    assert "HttpOnly" in binding and "SameSite=Lax" in binding and "Path=/" in binding
    # Neither the state nor the nonce is kept in the clear: the record is named by a hash.
    keys = [str(k) for k in stack.redis.scan_iter(match=f"{stack.key_prefix}:oidc-flow:*")]
    assert keys and all(query["state"][0] not in k for k in keys)


def test_the_sign_in_page_shows_the_provider_button_beside_the_form_and_keeps_next(
    oidc: OidcWorld,
) -> None:
    stack = oidc.stack
    page = stack.new_session().get(
        stack.url("/auth/login?next=/docs/page%3Fx%3D1"), timeout=TIMEOUT
    )

    assert page.status_code == 200
    assert f'href="/auth/oidc/{PROVIDER_ID}/start?next=/docs/page%3Fx%3D1"' in page.text
    assert "Sign in with the test provider" in page.text
    assert 'name="password"' in page.text


def test_next_survives_the_round_trip_only_when_it_is_safe(oidc: OidcWorld) -> None:
    stack = oidc.stack
    answer = sign_in(stack.new_session(), stack, "sub-olivia", next_path="https://evil.example/")

    assert answer.status_code == 303
    assert answer.headers["Location"] == "/"


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("signature", "signature"),
        ("aud", "audience"),
        ("azp", "azp"),
        ("iss", "issuer"),
        ("nonce", "nonce"),
        ("expired", "expired"),
        ("none", "algorithm"),
        ("hs256", "algorithm"),
        ("unknown_kid", "unknown_kid"),
    ],
)
def test_a_hostile_id_token_is_refused_with_403_and_makes_no_session(
    oidc: OidcWorld, mode: str, reason: str
) -> None:
    stack = oidc.stack
    browser = stack.new_session()
    redirect = sign_in_at_provider(browser, stack, "sub-oscar")
    oidc.provider.tamper_next_id_token(mode)

    answer = browser.get(callback_url(redirect), allow_redirects=False, timeout=TIMEOUT)

    assert answer.status_code == 403
    assert "failed our checks" in answer.text
    assert session_cookies(answer) == []
    assert session_keys(stack, "oscar") == []
    assert user_record(stack, "oscar") == {}
    assert audit_records(stack, "signin.failed", reason=f"oidc_id_token_{reason}")
    assert api(stack, browser).status_code == 401


def test_a_replayed_state_is_refused_with_400(oidc: OidcWorld) -> None:
    stack = oidc.stack
    browser = stack.new_session()
    redirect = sign_in_at_provider(browser, stack, "sub-olivia")
    url = callback_url(redirect)
    assert browser.get(url, allow_redirects=False, timeout=TIMEOUT).status_code == 303
    before = session_keys(stack, "olivia")
    # The browser's binding cookie is gone; put it back, as an attacker holding it would.
    replay = stack.new_session()
    replay.cookies.update(browser.cookies)

    answer = replay.get(url, allow_redirects=False, timeout=TIMEOUT)

    assert answer.status_code == 400
    assert session_cookies(answer) == []
    assert session_keys(stack, "olivia") == before


def test_a_callback_in_another_browser_is_refused_and_spends_the_flow(oidc: OidcWorld) -> None:
    stack = oidc.stack
    victim = stack.new_session()
    redirect = sign_in_at_provider(victim, stack, "sub-oscar")

    # Login CSRF: the attacker's callback URL opened in a browser without the binding cookie.
    stranger = stack.new_session().get(
        callback_url(redirect), allow_redirects=False, timeout=TIMEOUT
    )
    own = victim.get(callback_url(redirect), allow_redirects=False, timeout=TIMEOUT)

    assert stranger.status_code == 400
    assert session_cookies(stranger) == []
    # Taken once, pass or fail: the flow is spent.
    assert own.status_code == 400
    assert session_keys(stack, "oscar") == []


def test_a_wrong_iss_in_the_response_is_refused_before_the_code_is_redeemed(
    oidc: OidcWorld,
) -> None:
    stack = oidc.stack
    browser = stack.new_session()
    params = callback_params(sign_in_at_provider(browser, stack, "sub-oscar"))
    params["iss"] = "https://mix-up.example"

    answer = browser.get(
        stack.url(CALLBACK + "?" + urlencode(params)), allow_redirects=False, timeout=TIMEOUT
    )

    assert answer.status_code == 400
    assert session_cookies(answer) == []
    assert session_keys(stack, "oscar") == []
    assert audit_records(stack, "signin.failed", reason="oidc_iss")


def test_a_response_without_iss_from_a_provider_that_sends_it_is_refused(oidc: OidcWorld) -> None:
    stack = oidc.stack
    browser = stack.new_session()
    params = callback_params(sign_in_at_provider(browser, stack, "sub-oscar"))
    del params["iss"]

    answer = browser.get(
        stack.url(CALLBACK + "?" + urlencode(params)), allow_redirects=False, timeout=TIMEOUT
    )

    assert answer.status_code == 400
    assert session_keys(stack, "oscar") == []


def test_an_injected_code_fails_pkce_and_is_refused_with_400(oidc: OidcWorld) -> None:
    stack = oidc.stack
    # The attacker signs in at the provider and keeps the code; the victim's browser has a
    # flow of its own (its state, its binding cookie, its PKCE verifier).
    attacker_code = callback_params(sign_in_at_provider(stack.new_session(), stack, "sub-oscar"))
    victim = stack.new_session()
    victim_state = callback_params(sign_in_at_provider(victim, stack, "sub-ophelia"))["state"]
    injected = {**attacker_code, "state": victim_state}
    # The stack is shared: ophelia's sessions of other tests may be there already.
    earlier = session_keys(stack, "oscar"), session_keys(stack, "ophelia")

    answer = victim.get(
        stack.url(CALLBACK + "?" + urlencode(injected)), allow_redirects=False, timeout=TIMEOUT
    )

    # The verifier sends the victim's code_verifier: the code was bound to another challenge.
    assert answer.status_code == 400
    assert session_cookies(answer) == []
    assert (session_keys(stack, "oscar"), session_keys(stack, "ophelia")) == earlier
    assert audit_records(stack, "signin.failed", reason="oidc_400 invalid_grant")


def test_an_authorization_request_without_pkce_is_refused_and_makes_no_session(
    oidc: OidcWorld,
) -> None:
    # What the verifier never sends, the provider (configured to require PKCE) refuses; its
    # error comes back to our callback, which answers 403 and signs nobody in.
    stack = oidc.stack
    browser = stack.new_session()
    start = browser.get(
        stack.url(f"/auth/oidc/{PROVIDER_ID}/start"), allow_redirects=False, timeout=TIMEOUT
    )
    query = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["Location"]).query).items()}
    del query["code_challenge"], query["code_challenge_method"]
    refused = browser.get(
        f"{oidc.provider.issuer}/auth?{urlencode(query)}", allow_redirects=False, timeout=TIMEOUT
    )
    assert "PKCE" in refused.headers["Location"]

    answer = browser.get(refused.headers["Location"], allow_redirects=False, timeout=TIMEOUT)

    assert answer.status_code == 403
    assert session_cookies(answer) == []
    assert audit_records(stack, "signin.failed", reason="oidc_provider_error")


def test_a_provider_error_is_refused_with_403(oidc: OidcWorld) -> None:
    stack = oidc.stack
    browser = stack.new_session()
    state = callback_params(sign_in_at_provider(browser, stack, "sub-oscar"))["state"]
    query = urlencode({"error": "access_denied", "state": state, "iss": oidc.provider.issuer})

    answer = browser.get(stack.url(f"{CALLBACK}?{query}"), allow_redirects=False, timeout=TIMEOUT)

    assert answer.status_code == 403
    assert session_cookies(answer) == []


def test_a_callback_without_state_or_with_garbage_is_refused_with_400(oidc: OidcWorld) -> None:
    stack = oidc.stack
    for query in ("", "?code=x", "?state=" + "A" * 43 + "&code=x", "?state=%00&code=%00"):
        answer = stack.new_session().get(
            stack.url(CALLBACK + query), allow_redirects=False, timeout=TIMEOUT
        )
        assert answer.status_code == 400, query
        assert session_cookies(answer) == []


def test_a_name_that_does_not_fit_our_rules_is_refused_with_403_and_audited(
    oidc: OidcWorld,
) -> None:
    stack = oidc.stack
    answer = sign_in(stack.new_session(), stack, "sub-jurgen")

    assert answer.status_code == 403
    assert "jürgen" in answer.text
    assert session_cookies(answer) == []
    assert audit_records(stack, "signin.name_refused", source=f"oidc:{PROVIDER_ID}")


def test_a_name_owned_by_a_local_user_is_refused_with_403_and_audited(oidc: OidcWorld) -> None:
    stack = oidc.stack
    add_user(stack.env, "oidc-local-owner", "a-local-password-1")

    answer = sign_in(stack.new_session(), stack, "sub-taken")

    assert answer.status_code == 403
    assert session_cookies(answer) == []
    assert session_keys(stack, "oidc-local-owner") == []
    (taken,) = audit_records(stack, "signin.name_taken", user="oidc-local-owner")
    assert taken["owner"] == "local"
    assert taken["upstream_id"] == "sub-taken"
    assert "source" not in user_record(stack, "oidc-local-owner")


def test_a_provider_trusted_for_a_second_factor_gives_an_mfa_session(oidc: OidcWorld) -> None:
    # trusted_amr = ["hwk"]: the provider said its sign-in used a passkey. `strong` is in a
    # group that requires a second factor here, and needs none of ours.
    stack = oidc.stack
    browser = stack.new_session()
    redirect = sign_in_at_provider(browser, stack, "sub-strong")
    oidc.provider.tamper_next_id_token("amr_hwk")

    answer = browser.get(callback_url(redirect), allow_redirects=False, timeout=TIMEOUT)

    assert answer.status_code == 303
    assert len(session_cookies(answer)) == 2
    (key,) = session_keys(stack, "strong")
    assert stack.redis.hget(key, "amr") == "fed,mfa"


def test_an_untrusted_sign_in_gets_our_factor_policy(oidc: OidcWorld) -> None:
    # No amr the provider is trusted for: `weak`, in a group that requires a second factor,
    # must enrol one of ours before any session exists.
    stack = oidc.stack
    answer = sign_in(stack.new_session(), stack, "sub-weak")

    assert answer.status_code == 303
    assert answer.headers["Location"] == "/auth/login/factor"
    assert session_cookies(answer) == []
    assert any(c.startswith("verifier-pending=") for c in set_cookie_headers(answer))
    assert session_keys(stack, "weak") == []


def test_several_providers_each_have_a_button_and_their_own_users(oidc: OidcWorld) -> None:
    stack = oidc.stack
    page = stack.new_session().get(stack.url("/auth/login"), timeout=TIMEOUT)
    assert 'href="/auth/oidc/op/start"' in page.text
    assert f'href="/auth/oidc/{SECOND_ID}/start"' in page.text

    browser = stack.new_session()
    answer = sign_in(browser, stack, "sub-pia", provider_id=SECOND_ID)

    assert answer.status_code == 303
    assert api(stack, browser).json()["user"] == "pia"
    assert user_record(stack, "pia")["source"] == f"oidc:{SECOND_ID}"


def test_a_name_another_provider_holds_is_refused_with_403_and_audited(oidc: OidcWorld) -> None:
    stack = oidc.stack
    assert sign_in(stack.new_session(), stack, "sub-olivia").status_code == 303

    answer = sign_in(stack.new_session(), stack, "sub-olivia-2", provider_id=SECOND_ID)

    assert answer.status_code == 403
    assert session_cookies(answer) == []
    taken = audit_records(stack, "signin.name_taken", user="olivia", source=f"oidc:{SECOND_ID}")
    assert taken and taken[0]["owner"] == f"oidc:{PROVIDER_ID}"
    assert user_record(stack, "olivia")["source_id"] == "sub-olivia"
