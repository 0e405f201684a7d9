"""Tokens signed with the real key but carrying the wrong claims, through nginx.

A harness holding the signing key can mint anything; these tokens are correctly signed, so
only the claim rules (RFC 8725, RFC 9068) stand between them and the app. Each names the
victim's live session unless the case is about naming another one, rides alone in the
access cookie, and must get a 401 with no Set-Cookie.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from attack_helpers import (
    OMIT,
    assert_denied,
    forge_claims,
    forge_header,
    fresh_user,
    hmac_token,
)
from e2e_helpers import (
    SignedIn,
    burst,
    cookie_header,
    eventually,
    expired_access_token,
    get_page,
    sign_in,
)

if TYPE_CHECKING:
    from conftest import Stack


@dataclass(frozen=True)
class Scene:
    """A live victim session, and another user's live session."""

    stack: Stack
    victim: SignedIn
    bystander: SignedIn

    def token(self, header: dict[str, Any], claims: dict[str, Any]) -> str:
        header_fields = forge_header(self.stack, **header)
        payload = forge_claims(self.victim.name, self.victim.session_id, **claims)
        return hmac_token(header_fields, payload, self.stack.jwt_secret.encode())


@pytest.fixture(scope="module")
def scene(stack: Stack) -> Scene:
    victim, bystander = fresh_user(stack, "victim"), fresh_user(stack, "bystander")
    return Scene(stack, sign_in(stack, *victim), sign_in(stack, *bystander))


Claims = Callable[[Scene, int], dict[str, Any]]

CLAIM_ATTACKS: dict[str, Claims] = {
    # Every required claim, left out.
    "missing-exp": lambda s, now: {"exp": OMIT},
    "missing-iat": lambda s, now: {"iat": OMIT},
    "missing-iss": lambda s, now: {"iss": OMIT},
    "missing-aud": lambda s, now: {"aud": OMIT},
    "missing-sub": lambda s, now: {"sub": OMIT},
    "missing-sid": lambda s, now: {"sid": OMIT},
    # Issuer: exact match only.
    "iss-foreign": lambda s, now: {"iss": "https://evil.example"},
    "iss-prefix-of-ours": lambda s, now: {"iss": "verifie"},
    "iss-ours-as-prefix": lambda s, now: {"iss": "verifier-evil"},
    "iss-ours-with-suffix": lambda s, now: {"iss": "verifierx"},
    "iss-other-case": lambda s, now: {"iss": "Verifier"},
    "iss-empty": lambda s, now: {"iss": ""},
    "iss-as-list": lambda s, now: {"iss": ["verifier"]},
    "iss-null": lambda s, now: {"iss": None},
    # Audience: ours, or nothing.
    "aud-foreign": lambda s, now: {"aud": "billing"},
    "aud-foreign-list": lambda s, now: {"aud": ["billing", "reports"]},
    "aud-prefix-of-ours": lambda s, now: {"aud": "verifie"},
    "aud-ours-as-prefix": lambda s, now: {"aud": "verifier-evil"},
    "aud-empty": lambda s, now: {"aud": ""},
    "aud-empty-list": lambda s, now: {"aud": []},
    "aud-null": lambda s, now: {"aud": None},
    "aud-number": lambda s, now: {"aud": 7},
    # Time: expired beyond the leeway (0 s on this stack), not yet valid, issued in the future.
    "exp-one-second-ago": lambda s, now: {"iat": now - 60, "exp": now - 1},
    "exp-an-hour-ago": lambda s, now: {"iat": now - 7200, "exp": now - 3600},
    "exp-at-the-epoch": lambda s, now: {"exp": 0},
    "nbf-in-the-future": lambda s, now: {"nbf": now + 60},
    "iat-in-the-future": lambda s, now: {"iat": now + 60, "exp": now + 360},
    # Claims of the wrong type.
    "exp-as-string": lambda s, now: {"exp": str(now + 300)},
    "exp-null": lambda s, now: {"exp": None},
    "exp-true": lambda s, now: {"exp": True},
    "exp-as-float": lambda s, now: {"exp": now + 300.5},
    "exp-as-list": lambda s, now: {"exp": [now + 300]},
    "iat-as-string": lambda s, now: {"iat": str(now)},
    "iat-null": lambda s, now: {"iat": None},
    "nbf-as-string": lambda s, now: {"nbf": str(now - 60)},
    "sub-empty": lambda s, now: {"sub": ""},
    "sub-null": lambda s, now: {"sub": None},
    "sub-number": lambda s, now: {"sub": 1},
    "sub-as-list": lambda s, now: {"sub": [s.victim.name]},
    "sid-empty": lambda s, now: {"sid": ""},
    "sid-null": lambda s, now: {"sid": None},
    "sid-number": lambda s, now: {"sid": 1},
    "sid-as-object": lambda s, now: {"sid": {"id": s.victim.session_id}},
    # Names that are not the live session's: another user's, variants, nobody's.
    "sub-of-another-user-with-the-victims-sid": lambda s, now: {"sub": s.bystander.name},
    "sid-of-another-users-session": lambda s, now: {"sid": s.bystander.session_id},
    "sub-in-upper-case": lambda s, now: {"sub": s.victim.name.upper()},
    "sub-with-trailing-space": lambda s, now: {"sub": s.victim.name + " "},
    "sub-with-hash-tag-braces": lambda s, now: {"sub": "{" + s.victim.name + "}"},
    "sid-never-issued": lambda s, now: {"sid": "A" * 22},
    "sid-redis-glob": lambda s, now: {"sid": "*"},
    "user-never-created": lambda s, now: {"sub": "nobody-at-all", "sid": "B" * 22},
    # How and when the user signed in: claimed with the real key, but not as we write it.
    "amr-unknown-method": lambda s, now: {"amr": ["pwd", "sms"]},
    "amr-empty": lambda s, now: {"amr": []},
    "amr-as-string": lambda s, now: {"amr": "pwd otp"},
    "amr-repeated": lambda s, now: {"amr": ["pwd", "pwd"]},
    "amr-null": lambda s, now: {"amr": None},
    "amr-missing": lambda s, now: {"amr": OMIT},
    "auth_time-missing": lambda s, now: {"auth_time": OMIT},
    "auth_time-as-string": lambda s, now: {"auth_time": str(now - 60)},
    "auth_time-after-iat": lambda s, now: {"iat": now - 60, "auth_time": now - 30},
    "auth_time-in-the-future": lambda s, now: {"auth_time": now + 600},
    # A genuine token from before amr existed is outdated, not forged: without a refresh
    # cookie to take over, that too is a 401.
    "amr-and-auth_time-missing": lambda s, now: {"amr": OMIT, "auth_time": OMIT},
}

TYPE_ATTACKS: dict[str, Any] = {
    "typ-JWT": "JWT",
    "typ-jwt": "jwt",
    "typ-refresh": "rt+jwt",
    "typ-upper-case": "AT+JWT",
    "typ-empty": "",
    "typ-null": None,
    "typ-number": 1,
    "typ-missing": OMIT,
}


def test_control_the_unaltered_claims_are_accepted(scene: Scene) -> None:
    token = scene.token({}, {})

    response = get_page(scene.stack, cookie=cookie_header(scene.stack, access=token))

    assert response.status_code == 200
    assert response.json()["user"] == scene.victim.name


@pytest.mark.parametrize("claims", CLAIM_ATTACKS.values(), ids=CLAIM_ATTACKS.keys())
def test_token_with_bad_claims_is_denied(scene: Scene, claims: Claims) -> None:
    token = scene.token({}, claims(scene, int(time.time())))

    assert_denied(get_page(scene.stack, cookie=cookie_header(scene.stack, access=token)))


@pytest.mark.parametrize("typ", TYPE_ATTACKS.values(), ids=TYPE_ATTACKS.keys())
def test_token_of_another_type_is_denied(scene: Scene, typ: Any) -> None:
    token = scene.token({"typ": typ}, {})

    assert_denied(get_page(scene.stack, cookie=cookie_header(scene.stack, access=token)))


def test_tokens_of_a_deleted_user_are_denied_long_before_they_expire(stack: Stack) -> None:
    name, password = fresh_user(stack, "leaver")
    signed = sign_in(stack, name, password)
    access_only = cookie_header(stack, access=signed.access)
    cached = burst(stack, access_only)  # cached as live by every worker, if anything caches
    assert cached.every_worker(stack, 204), cached.answers

    stack.cli("users", "remove", name)

    # A worker that cached the session may read the removal a moment after the command ends
    # (test_revocation_cache.py); long before its cache or the token would have run out.
    denied = eventually(
        lambda: burst(stack, access_only),
        lambda answered: answered.every_worker(stack, 401),
        what="every worker to deny the removed user's session",
    )
    for response in denied.responses:
        assert_denied(response)
    assert_denied(get_page(stack, cookie=cookie_header(stack, refresh=signed.refresh)))
    expired = expired_access_token(stack, name, signed.session_id)
    assert_denied(get_page(stack, cookie=cookie_header(stack, expired, signed.refresh)))
