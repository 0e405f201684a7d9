"""Logout under attack, through nginx: only proof of a session ends it, and only POST does.

Already proven in test_logout.py and not repeated: old access and refresh tokens and both
after logout-all are denied, cookies are cleared with Max-Age=0, GET is a 405, a
cross-site logout is refused.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
import requests
from attack_helpers import (
    assert_denied,
    assert_refused,
    forge_claims,
    forge_header,
    fresh_user,
    genuine_token,
    hmac_token,
    segment,
)
from e2e_helpers import (
    TIMEOUT,
    SignedIn,
    cookie_header,
    get_page,
    post_logout,
    set_cookies,
    sign_in,
)

if TYPE_CHECKING:
    from conftest import Stack


def _still_signed_in(stack: Stack, signed: SignedIn) -> bool:
    # A long-lived genuine token for the session: 200 exactly while the session is live.
    token = genuine_token(stack, signed.name, signed.session_id)
    return get_page(stack, cookie=cookie_header(stack, access=token)).status_code == 200


Forgery = Callable[["Stack", SignedIn], str]

FORGED_PROOFS: dict[str, Forgery] = {
    "access-token-signed-with-a-foreign-key": lambda stack, v: cookie_header(
        stack,
        access=hmac_token(
            forge_header(stack),
            forge_claims(v.name, v.session_id),
            secrets.token_urlsafe(48).encode(),
        ),
    ),
    "access-token-with-alg-none": lambda stack, v: cookie_header(
        stack,
        access=f"{segment(forge_header(stack, alg='none'))}."
        f"{segment(forge_claims(v.name, v.session_id))}.",
    ),
    "expired-access-token-signed-with-a-foreign-key": lambda stack, v: cookie_header(
        stack,
        access=hmac_token(
            forge_header(stack),
            forge_claims(v.name, v.session_id, iat=int(time.time()) - 600, exp=0),
            b"not-the-key",
        ),
    ),
    "refresh-token-with-a-guessed-secret": lambda stack, v: cookie_header(
        stack, refresh=f"{v.name}.{v.session_id}.{secrets.token_urlsafe(32)}"
    ),
    "refresh-token-naming-the-session-without-a-secret": lambda stack, v: cookie_header(
        stack, refresh=f"{v.name}.{v.session_id}."
    ),
}


@pytest.mark.parametrize("everywhere", [False, True], ids=["this-session", "everywhere"])
@pytest.mark.parametrize("forgery", FORGED_PROOFS.values(), ids=FORGED_PROOFS.keys())
def test_forged_proof_cannot_log_the_victim_out(
    stack: Stack, forgery: Forgery, everywhere: bool
) -> None:
    victim = sign_in(stack, *fresh_user(stack, "victim"))

    response = post_logout(stack, forgery(stack, victim), everywhere)

    # The caller's own (worthless) cookies are cleared; nobody else's session is touched.
    assert response.status_code == 200
    assert response.json()["sessions_ended"] == 0
    assert _still_signed_in(stack, victim)


WRONG_METHODS = ["HEAD", "PUT", "DELETE", "PATCH"]


@pytest.mark.parametrize("everywhere", [False, True], ids=["this-session", "everywhere"])
@pytest.mark.parametrize("method", WRONG_METHODS)
def test_logout_answers_only_to_post(stack: Stack, method: str, everywhere: bool) -> None:
    signed = sign_in(stack, *fresh_user(stack, "user"))

    response = requests.request(
        method,
        stack.url("/auth/logout" + ("?all=1" if everywhere else "")),
        headers={"Cookie": cookie_header(stack, signed.access, signed.refresh)},
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert_refused(response, 405)
    assert _still_signed_in(stack, signed)


def test_get_logout_everywhere_is_not_a_logout(stack: Stack) -> None:
    signed = sign_in(stack, *fresh_user(stack, "user"))
    phone = sign_in(stack, signed.name, signed.password)

    response = requests.get(
        stack.url("/auth/logout?all=1"),
        headers={"Cookie": cookie_header(stack, signed.access, signed.refresh)},
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert_refused(response, 405)
    assert _still_signed_in(stack, signed)
    assert _still_signed_in(stack, phone)


def test_token_rotated_out_just_before_logout_is_dead_inside_the_grace_window(
    stack: Stack,
) -> None:
    signed = sign_in(stack, *fresh_user(stack, "user"))
    rotated = set_cookies(get_page(stack, cookie=cookie_header(stack, refresh=signed.refresh)))
    new_access, new_refresh = rotated[stack.access_cookie], rotated[stack.refresh_cookie]

    assert post_logout(stack, cookie_header(stack, new_access, new_refresh)).status_code == 200

    # Well inside the 60 s grace window: the previous token must not revive the session.
    assert_denied(get_page(stack, cookie=cookie_header(stack, refresh=signed.refresh)))
    assert_denied(get_page(stack, cookie=cookie_header(stack, refresh=new_refresh)))
    assert_denied(get_page(stack, cookie=cookie_header(stack, access=new_access)))


def test_logout_of_one_user_cannot_end_another_users_session_by_naming_it(
    stack: Stack,
) -> None:
    attacker = sign_in(stack, *fresh_user(stack, "attacker"))
    victim = sign_in(stack, *fresh_user(stack, "victim"))
    # The attacker's genuine refresh secret, relabelled with the victim's name and session.
    secret = attacker.refresh.rsplit(".", 1)[1]
    relabelled = f"{victim.name}.{victim.session_id}.{secret}"

    for everywhere in (False, True):
        response = post_logout(stack, cookie_header(stack, refresh=relabelled), everywhere)
        # Signed out on this side (its cookies cleared, none set), nothing ended anywhere.
        assert response.status_code == 200
        assert response.json() == {"signed_out": True, "sessions_ended": 0}
        assert set(set_cookies(response).values()) <= {""}

    assert _still_signed_in(stack, victim)
    assert _still_signed_in(stack, attacker)
