"""Step-up through real nginx: locations and rules that ask how and when the user signed in.

The demo nginx conf (nginx/demo.conf.template) declares `mfa` on `/step-up/mfa` and
`max_age=10` on `/step-up/recent` (both serve the app's header echo); the e2e rules file
(conftest.E2E_RULES) asks `mfa = true` of group staff on `/ruled/mfa-staff` and denies
everyone else there. Sessions with a chosen amr and auth_time are created with the real
SessionStore in the test process, against the stack's Redis and key prefix; the browser's
first request carries only the refresh cookie (or a stale access token with it), so the
verifier itself issues the access token from the session.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import TYPE_CHECKING

import jwt
import pytest
import requests
from attack_helpers import forge_claims, forge_header, hmac_token
from e2e_helpers import (
    PAGE_HEADERS,
    TIMEOUT,
    cookie_header,
    expired_access_token,
    get_page,
    set_cookie_headers,
    set_cookies,
    sign_in,
)
from session_helpers import store_session

from verifier.factors.methods import PASSWORD, TOTP
from verifier.sessions.store import NewSession

if TYPE_CHECKING:
    from conftest import Stack, StackFactory

MFA_PATH = "/step-up/mfa"
RECENT_PATH = "/step-up/recent"
RULED_PATH = "/ruled/mfa-staff"
# What the app answers for a path it has no page for: the request got through nginx.
REACHED_THE_APP = 404


def _user(stack: Stack, *groups: str) -> str:
    name, password = f"stepup-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    options = [option for group in groups for option in ("--group", group)]
    result = stack.cli("users", "add", name, *options, stdin=password + "\n")
    assert result.returncode == 0, result.stderr
    return name


def _refresh_only(stack: Stack, session: NewSession) -> str:
    return cookie_header(stack, refresh=str(session.refresh_token))


def _claims(token: str) -> dict[str, object]:
    # Only to read what a cookie or header says; the verifier or the app verified it.
    claims: dict[str, object] = jwt.decode(token, options={"verify_signature": False})
    return claims


def _step_up_url(step: str, next_path: str) -> str:
    return f"/auth/login?step_up={step}&next={next_path}"


# --- mfa -------------------------------------------------------------------------------------


def test_a_password_session_browsing_to_an_mfa_location_is_sent_to_the_step_and_back(
    stack: Stack,
) -> None:
    session = store_session(stack, _user(stack), [PASSWORD])

    response = get_page(
        stack, MFA_PATH + "?report=q3", cookie=_refresh_only(stack, session), **PAGE_HEADERS
    )

    assert response.status_code == 302
    assert response.headers["Location"] == _step_up_url("mfa", "/step-up/mfa%3Freport%3Dq3")
    assert response.headers["Cache-Control"] == "no-store"


def test_an_api_call_from_a_password_session_gets_401_json_naming_the_step_up_url(
    stack: Stack,
) -> None:
    session = store_session(stack, _user(stack), [PASSWORD])

    response = get_page(stack, MFA_PATH, cookie=_refresh_only(stack, session))

    assert response.status_code == 401
    url = _step_up_url("mfa", "/step-up/mfa")
    assert response.json() == {"error": "step_up_required", "step_up": url, "login_url": url}


def test_a_two_factor_session_enters_and_the_app_learns_how_it_signed_in(stack: Stack) -> None:
    user = _user(stack)
    signed_in_at = int(time.time()) - 30
    session = store_session(stack, user, [PASSWORD, TOTP], signed_in_at)

    first = get_page(stack, MFA_PATH, cookie=_refresh_only(stack, session), **PAGE_HEADERS)

    assert first.status_code == 200, first.text
    echoed = first.json()
    assert echoed["x-auth-user"] == user
    assertion = _claims(echoed["x-auth-assertion"])
    assert (assertion["amr"], assertion["auth_time"]) == (["pwd", "otp"], signed_in_at)
    # The access token the refresh issued says the same, and passes on its own.
    rotated = set_cookies(first)
    access = rotated[stack.access_cookie]
    assert (_claims(access)["amr"], _claims(access)["auth_time"]) == (["pwd", "otp"], signed_in_at)
    again = get_page(stack, MFA_PATH, cookie=cookie_header(stack, access=access))
    assert again.status_code == 200
    assert set_cookie_headers(again) == []


def test_a_password_sign_in_through_the_login_form_needs_the_step_up(stack: Stack) -> None:
    name, password = f"stepup-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    stack.create_user(name, password)
    signed = sign_in(stack, name, password)
    assert (_claims(signed.access)["amr"], type(_claims(signed.access)["auth_time"])) == (
        ["pwd"],
        int,
    )

    response = get_page(stack, MFA_PATH, cookie=cookie_header(stack, signed.access))

    assert response.status_code == 401
    assert response.json()["error"] == "step_up_required"
    # Elsewhere the same session is welcome as before.
    assert get_page(stack, "/api/whoami", cookie=cookie_header(stack, signed.access)).ok


# --- max_age ---------------------------------------------------------------------------------


def test_a_sign_in_older_than_max_age_needs_a_fresh_one(stack: Stack) -> None:
    user = _user(stack)
    # Two factors do not make an old sign-in recent.
    old = store_session(stack, user, [PASSWORD, TOTP], time.time() - 11 * 60)
    fresh = store_session(stack, user, [PASSWORD], time.time() - 60)

    refused = get_page(stack, RECENT_PATH, cookie=_refresh_only(stack, old), **PAGE_HEADERS)
    api = get_page(stack, RECENT_PATH, cookie=_refresh_only(stack, old))
    admitted = get_page(stack, RECENT_PATH, cookie=_refresh_only(stack, fresh))

    assert refused.status_code == 302
    assert refused.headers["Location"] == _step_up_url("max_age", "/step-up/recent")
    assert api.status_code == 401
    assert api.json()["step_up"] == _step_up_url("max_age", "/step-up/recent")
    assert admitted.status_code == 200


# --- cookies rotated by the same check -------------------------------------------------------


def test_a_step_up_answer_after_a_silent_refresh_hands_back_the_rotated_cookies(
    stack: Stack,
) -> None:
    user = _user(stack)
    session = store_session(stack, user, [PASSWORD])
    stale = expired_access_token(stack, user, session.session_id)
    cookie = cookie_header(stack, stale, str(session.refresh_token))

    # A page navigation is sent to the step-up page, an API call gets 401 JSON naming it.
    for headers, status in ((PAGE_HEADERS, 302), ({}, 401)):
        response = get_page(stack, MFA_PATH, cookie=cookie, **headers)
        assert response.status_code == status
        if status == 302:
            assert response.headers["Location"] == _step_up_url("mfa", MFA_PATH)
        else:
            assert response.json()["step_up"] == _step_up_url("mfa", MFA_PATH)
        rotated = set_cookies(response)
        assert set(rotated) == {stack.access_cookie, stack.refresh_cookie}
        assert rotated[stack.refresh_cookie] != str(session.refresh_token)
        # The refresh is not a sign-in: the new token says password, signed in at creation.
        assert _claims(rotated[stack.access_cookie])["amr"] == ["pwd"]
        assert _claims(rotated[stack.access_cookie])["auth_time"] == session.sign_in.auth_time
        # The rotated pair is the session now: it enters where no second factor is asked.
        cookie = cookie_header(stack, rotated[stack.access_cookie], rotated[stack.refresh_cookie])
        follow_up = get_page(stack, "/api/whoami", cookie=cookie)
        assert follow_up.status_code == 200
        assert follow_up.json()["session"] == session.session_id
        cookie = cookie_header(stack, stale, rotated[stack.refresh_cookie])


def test_a_plain_401_still_sets_no_cookie(stack: Stack) -> None:
    response = get_page(stack, MFA_PATH, **PAGE_HEADERS)

    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?next=/step-up/mfa"
    assert set_cookie_headers(response) == []


# --- forged and tampered claims --------------------------------------------------------------


def _tampered(token: str, **changes: object) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    raw = json.dumps(claims, separators=(",", ":")).encode()
    return f"{header}.{base64.urlsafe_b64encode(raw).rstrip(b'=').decode()}.{signature}"


def _as_a_stranger(stack: Stack, response: requests.Response) -> None:
    # Exactly what a visitor without any token gets: a plain sign-in, no step named.
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?next=/step-up/mfa"
    assert set_cookie_headers(response) == []


def test_a_forged_or_tampered_amr_is_refused_like_any_forged_token(stack: Stack) -> None:
    user = _user(stack)
    session = store_session(stack, user, [PASSWORD], time.time() - 3600)
    # A genuine password-only access token, as the verifier issued it.
    genuine = set_cookies(get_page(stack, "/api/whoami", cookie=_refresh_only(stack, session)))[
        stack.access_cookie
    ]
    two_factors = forge_claims(user, session.session_id, amr=["pwd", "otp"])
    forged = hmac_token(forge_header(stack), two_factors, b"not-the-key-" * 4)
    tampered = _tampered(genuine, amr=["pwd", "otp"])
    younger = _tampered(genuine, auth_time=int(time.time()))
    assert younger != genuine

    for token in (forged, tampered, younger):
        response = get_page(stack, MFA_PATH, cookie=cookie_header(stack, token), **PAGE_HEADERS)
        _as_a_stranger(stack, response)
    # The genuine token itself still passes where no second factor is asked.
    assert get_page(stack, "/api/whoami", cookie=cookie_header(stack, genuine)).status_code == 200


# --- central rules, and who is not a subject -------------------------------------------------


def test_a_central_rule_asks_its_subjects_for_a_second_factor(stack: Stack) -> None:
    staff = _user(stack, "staff")
    password = store_session(stack, staff, [PASSWORD])
    totp = store_session(stack, staff, [PASSWORD, TOTP])

    needs = get_page(stack, RULED_PATH, cookie=_refresh_only(stack, password), **PAGE_HEADERS)
    enters = get_page(stack, RULED_PATH, cookie=_refresh_only(stack, totp))

    assert needs.status_code == 302
    assert needs.headers["Location"] == _step_up_url("mfa", "/ruled/mfa-staff")
    assert enters.status_code == REACHED_THE_APP


@pytest.mark.parametrize("amr", [[PASSWORD], [PASSWORD, TOTP]], ids=["password", "two-factor"])
def test_who_is_not_a_subject_is_forbidden_as_before_whatever_the_session(
    stack: Stack, amr: list[str]
) -> None:
    outsider = store_session(stack, _user(stack, "ops"), amr)

    page = get_page(stack, RULED_PATH, cookie=_refresh_only(stack, outsider), **PAGE_HEADERS)
    api = get_page(stack, RULED_PATH, cookie=_refresh_only(stack, outsider))

    assert page.status_code == 403
    assert "Location" not in page.headers
    assert api.status_code == 403
    assert api.json()["error"] == "forbidden"


# --- no loops --------------------------------------------------------------------------------


def test_the_step_up_page_itself_is_never_protected(stack: Stack) -> None:
    session = store_session(stack, _user(stack), [PASSWORD])

    response = requests.get(
        stack.url(_step_up_url("mfa", "/step-up/mfa")),
        headers={"Cookie": _refresh_only(stack, session), **PAGE_HEADERS},
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert response.status_code == 200
    # The step-up page (this user has no factor yet: it says so, and links to enrol).
    assert "<h1>Confirm it" in response.text


def test_a_client_cannot_ask_the_unauthorized_page_for_a_step_of_its_own(stack: Stack) -> None:
    response = requests.get(
        stack.url("/auth/unauthorized"),
        headers={"X-Verifier-Step-Up": "mfa", "X-Original-URI": "/x", "Accept": "application/json"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert response.status_code == 401
    assert response.json() == {"error": "unauthenticated", "login_url": "/auth/login"}


# --- groups that need a second factor everywhere ---------------------------------------------


def test_members_of_an_mfa_group_need_a_second_factor_at_every_location(
    fresh_stack: StackFactory,
) -> None:
    stack = fresh_stack(VERIFIER_MFA_REQUIRED_GROUPS="admins")
    admin = _user(stack, "admins")
    guest = _user(stack)

    admin_password = store_session(stack, admin, [PASSWORD])
    admin_totp = store_session(stack, admin, [PASSWORD, TOTP])
    guest_password = store_session(stack, guest, [PASSWORD])

    needs = get_page(stack, "/api/whoami", cookie=_refresh_only(stack, admin_password))
    assert needs.status_code == 401
    assert needs.json()["step_up"] == _step_up_url("mfa", "/api/whoami")
    assert get_page(stack, "/admin/", cookie=_refresh_only(stack, admin_totp)).status_code == 200
    assert get_page(stack, "/api/whoami", cookie=_refresh_only(stack, guest_password)).ok
