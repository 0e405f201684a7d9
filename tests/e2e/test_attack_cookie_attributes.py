"""Every Set-Cookie the stack sends, as a browser receives it through nginx.

HttpOnly (no script reads a token), SameSite (no cross-site request carries one), Path=/ and
no Domain (no sibling subdomain receives or shadows one), Secure and the __Host- names unless
the explicit local-http setting is on (it is on this stack; the Secure variant is unit-tested
in test_cookies.py), a Max-Age no longer than the token the cookie holds, and
`Cache-Control: no-store` on the response so that no shared cache keeps a token.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import jwt
import pytest
import requests
from attack_helpers import fresh_user
from e2e_helpers import (
    TIMEOUT,
    cookie_header,
    expired_access_token,
    get_page,
    set_cookie_headers,
    set_cookies,
    sign_in,
)

if TYPE_CHECKING:
    from conftest import Stack


@dataclass(frozen=True)
class ParsedCookie:
    """One Set-Cookie line: name, value and attributes (names lower-cased)."""

    name: str
    value: str
    attributes: dict[str, str]

    @classmethod
    def parse(cls, line: str) -> ParsedCookie:
        pair, *attrs = (part.strip() for part in line.split(";"))
        name, _, value = pair.partition("=")
        attributes = {}
        for attr in attrs:
            key, _, attr_value = attr.partition("=")
            assert key.lower() not in attributes, f"{key} twice in {line!r}"
            attributes[key.lower()] = attr_value
        return cls(name, value, attributes)


@dataclass(frozen=True)
class Event:
    """A response that sets cookies, the cookies it must set, and when it was asked for."""

    response: requests.Response
    expected: set[str]
    user: str
    session_id: str
    # Wall-clock time just before the request: the server answered after it.
    sent_at: float


def _form_login(stack: Stack) -> Event:
    name, password = fresh_user(stack, "cookies")
    sent_at = time.time()
    response = requests.post(
        stack.url("/auth/login"),
        data={"username": name, "password": password},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert response.status_code == 303
    session_id = set_cookies(response)[stack.refresh_cookie].rsplit(".", 2)[1]
    return Event(response, {stack.access_cookie, stack.refresh_cookie}, name, session_id, sent_at)


def _json_login(stack: Stack) -> Event:
    name, password = fresh_user(stack, "cookies")
    sent_at = time.time()
    response = requests.post(
        stack.url("/auth/login"), json={"username": name, "password": password}, timeout=TIMEOUT
    )
    assert response.status_code == 200
    session_id = response.json()["session"]
    return Event(response, {stack.access_cookie, stack.refresh_cookie}, name, session_id, sent_at)


def _silent_refresh(stack: Stack) -> Event:
    signed = sign_in(stack, *fresh_user(stack, "cookies"))
    expired = expired_access_token(stack, signed.name, signed.session_id)
    # A page the app answers 404 without any Cache-Control of its own: the cookies must
    # still arrive (`always`), and no-store must come from the verifier alone.
    sent_at = time.time()
    response = get_page(
        stack, "/no-such-page", cookie=cookie_header(stack, expired, signed.refresh)
    )
    assert response.status_code == 404
    return Event(
        response,
        {stack.access_cookie, stack.refresh_cookie},
        signed.name,
        signed.session_id,
        sent_at,
    )


def _grace_refresh(stack: Stack) -> Event:
    signed = sign_in(stack, *fresh_user(stack, "cookies"))
    first = get_page(stack, cookie=cookie_header(stack, refresh=signed.refresh))
    assert stack.refresh_cookie in set_cookies(first)
    sent_at = time.time()
    response = get_page(stack, "/no-such-page", cookie=cookie_header(stack, refresh=signed.refresh))
    assert response.status_code == 404
    return Event(response, {stack.access_cookie}, signed.name, signed.session_id, sent_at)


def _logout(stack: Stack, everywhere: bool) -> Event:
    signed = sign_in(stack, *fresh_user(stack, "cookies"))
    sent_at = time.time()
    response = requests.post(
        stack.url("/auth/logout" + ("?all=1" if everywhere else "")),
        headers={"Cookie": cookie_header(stack, signed.access, signed.refresh)},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert response.status_code == 303
    return Event(
        response,
        {stack.access_cookie, stack.refresh_cookie},
        signed.name,
        signed.session_id,
        sent_at,
    )


EVENTS: dict[str, Callable[[Stack], Event]] = {
    "form-login": _form_login,
    "json-login": _json_login,
    "silent-refresh-on-an-app-404": _silent_refresh,
    "grace-refresh-on-an-app-404": _grace_refresh,
    "logout": lambda stack: _logout(stack, everywhere=False),
    "logout-everywhere": lambda stack: _logout(stack, everywhere=True),
}


def _session_end(stack: Stack, user: str, session_id: str) -> float:
    """When the session's absolute lifetime ends (wall-clock seconds)."""
    absolute_ms = stack.redis.hget(
        f"{stack.key_prefix}:{{{user}}}:session:{session_id}", "absolute_ms"
    )
    assert absolute_ms is not None, "session not in Redis"
    return int(absolute_ms) / 1000


@pytest.mark.parametrize("event", EVENTS.values(), ids=EVENTS.keys())
def test_every_set_cookie_has_safe_attributes(
    stack: Stack, event: Callable[[Stack], Event]
) -> None:
    happened = event(stack)
    secure = stack.secure_cookies

    cookies = [ParsedCookie.parse(line) for line in set_cookie_headers(happened.response)]

    assert sorted(c.name for c in cookies) == sorted(happened.expected)
    assert "no-store" in happened.response.headers["Cache-Control"]
    for cookie in cookies:
        attributes = cookie.attributes
        assert "httponly" in attributes, cookie
        assert attributes.get("samesite", "").lower() in {"lax", "strict"}, cookie
        assert attributes.get("path") == "/", cookie
        assert "domain" not in attributes, cookie
        assert ("secure" in attributes) is secure, cookie
        assert cookie.name.startswith("__Host-") is secure, cookie
        max_age = int(attributes["max-age"])
        if not cookie.value:
            assert max_age == 0, cookie
        elif cookie.name == stack.access_cookie:
            claims = jwt.decode(cookie.value, options={"verify_signature": False})
            assert 0 < max_age <= claims["exp"] - claims["iat"], (max_age, claims)
            # Issued while the request was being answered (iat is whole seconds).
            assert int(happened.sent_at) <= claims["iat"] <= time.time(), claims
        else:
            # The server counted what was left from a moment after the request was sent.
            end = _session_end(stack, happened.user, happened.session_id)
            left = end - happened.sent_at
            assert 0 < max_age <= left + 1, (max_age, left)
