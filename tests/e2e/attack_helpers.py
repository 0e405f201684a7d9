"""Tools of the adversarial end-to-end suite (tests/e2e/test_attack_*.py).

Every attack goes through nginx. These helpers forge tokens byte by byte (so that no JWT
library refuses to build a malicious one), check that a request was denied without a single
Set-Cookie, and create users straight in Redis through the verifier's own UserStore: the
CLI costs a process start per user, and users are setup here, not the thing under attack.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import requests
from e2e_helpers import access_claims, set_cookie_headers

if TYPE_CHECKING:
    from conftest import Stack

# Forged tokens live this long, so that no denial can be put down to a token that merely
# expired during the test (as long as the stack's own access tokens).
FORGED_LIFETIME_SECONDS = 300
# A value meaning "leave this header field or claim out" in forge_header / forge_claims.
OMIT: Any = object()


def b64url(data: bytes) -> str:
    """Unpadded base64url, as in a JWS."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def segment(value: object) -> str:
    """A JWS segment holding `value` as compact JSON."""
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def forge_header(stack: Stack, **fields: Any) -> dict[str, Any]:
    """The header the verifier writes (HS256, at+jwt, the stack's kid), fields overridden."""
    header: dict[str, Any] = {"alg": "HS256", "typ": "at+jwt", "kid": stack.jwt_kid}
    return _apply(header, fields)


def forge_claims(user: str, session_id: str, **claims: Any) -> dict[str, Any]:
    """Claims naming a live session, valid for FORGED_LIFETIME_SECONDS, claims overridden."""
    return _apply(access_claims(user, session_id, FORGED_LIFETIME_SECONDS), claims)


def _apply(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    for name, value in overrides.items():
        if value is OMIT:
            base.pop(name, None)
        else:
            base[name] = value
    return base


def hmac_token(
    header: dict[str, Any],
    claims: dict[str, Any],
    key: bytes,
    digest: Callable[..., Any] = hashlib.sha256,
) -> str:
    """A JWS signed with HMAC over any header and claims, with any key (even empty)."""
    signing_input = f"{segment(header)}.{segment(claims)}"
    signature = hmac.new(key, signing_input.encode("ascii"), digest).digest()
    return f"{signing_input}.{b64url(signature)}"


def genuine_token(stack: Stack, user: str, session_id: str, **claims: Any) -> str:
    """A token signed with the stack's real key: what the verifier itself would accept."""
    return hmac_token(
        forge_header(stack), forge_claims(user, session_id, **claims), stack.jwt_secret.encode()
    )


def assert_denied(response: requests.Response) -> None:
    """A protected API call was refused: 401 from /auth/unauthorized, and no cookie set."""
    assert response.status_code == 401, (response.status_code, response.text[:200])
    assert response.json()["error"] == "unauthenticated"
    assert set_cookie_headers(response) == []


def assert_refused(response: requests.Response, status: int) -> None:
    """The request got exactly `status`, and no Set-Cookie at all."""
    assert response.status_code == status, (response.status_code, response.text[:200])
    assert set_cookie_headers(response) == []


def make_user(stack: Stack, name: str, password: str) -> None:
    """Create a user in the stack's Redis, as `verifier users add` would (minus a process)."""
    stack.create_user(name, password)


def fresh_user(stack: Stack, label: str = "attack") -> tuple[str, str]:
    """Create a user with a unique name; return (name, password)."""
    name, password = f"{label}-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    make_user(stack, name, password)
    return name, password
