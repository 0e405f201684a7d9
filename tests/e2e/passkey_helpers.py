"""Helpers of the passkey tests through nginx: a software authenticator for the stack's
relying party (http://localhost:PORT), the ceremonies' JSON POSTs, a user with a passkey."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests
from e2e_helpers import TIMEOUT, new_user

from tests.soft_authenticator import SoftAuthenticator

if TYPE_CHECKING:
    from conftest import Stack

PASSKEYS_PATH = "/auth/account/passkeys"
REGISTER_OPTIONS_PATH = "/auth/account/passkeys/options"
REGISTER_PATH = "/auth/account/passkeys/register"
FACTOR_OPTIONS_PATH = "/auth/login/factor/passkey/options"
FACTOR_PASSKEY_PATH = "/auth/login/factor/passkey"
PASSWORDLESS_OPTIONS_PATH = "/auth/login/passkey/options"
PASSWORDLESS_PATH = "/auth/login/passkey"
PASSKEY_COOKIE = "verifier-passkey"
JSON_HEADERS = {"Accept": "application/json"}
CROSS_SITE = {**JSON_HEADERS, "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}


def soft_authenticator(stack: Stack, **options: Any) -> SoftAuthenticator:
    """A software authenticator answering for the stack's relying party."""
    return SoftAuthenticator(origin=stack.localhost_url(""), rp_id="localhost", **options)


def post_json(
    session: requests.Session,
    stack: Stack,
    path: str,
    body: Any,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """POST a JSON body through nginx, no redirect followed."""
    return session.post(
        stack.url(path),
        json=body,
        headers=headers or JSON_HEADERS,
        allow_redirects=False,
        timeout=TIMEOUT,
    )


def options_of(response: requests.Response) -> dict[str, Any]:
    """The publicKey options an options answer carries."""
    assert response.status_code == 200, response.text[:300]
    options: dict[str, Any] = response.json()["publicKey"]
    return options


def register(
    stack: Stack, session: requests.Session, soft: SoftAuthenticator, name: str = "Key"
) -> requests.Response:
    """Register `soft` for the signed-in `session`; return the answer to the credential."""
    options = options_of(post_json(session, stack, REGISTER_OPTIONS_PATH, {"name": name}))
    return post_json(session, stack, REGISTER_PATH, {"credential": soft.register(options)})


def user_with_passkey(
    stack: Stack, label: str = "passkey"
) -> tuple[str, str, SoftAuthenticator, requests.Session]:
    """A new user with one registered passkey (and so recovery codes), and the session
    that registered it (a new password sign-in now needs the passkey too)."""
    name, password = new_user(stack, label)
    soft = soft_authenticator(stack)
    session = stack.login(name, password)
    registered = register(stack, session, soft)
    assert registered.status_code == 200, registered.text[:300]
    return name, password, soft, session


def passwordless_options(stack: Stack, session: requests.Session) -> dict[str, Any]:
    """Start a sign-in without a password: the options (the session holds the cookie)."""
    return options_of(post_json(session, stack, PASSWORDLESS_OPTIONS_PATH, {"next": "/"}))
