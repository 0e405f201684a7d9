"""The token channel, through nginx: tokens count only in their cookies, /auth stays internal,
and the identity the app sees can only come from nginx.
"""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from attack_helpers import assert_denied, fresh_user
from e2e_helpers import TIMEOUT, SignedIn, cookie_header, get_page, sign_in

if TYPE_CHECKING:
    from conftest import Stack


@pytest.fixture(scope="module")
def victim(stack: Stack) -> SignedIn:
    return sign_in(stack, *fresh_user(stack, "victim"))


@dataclass(frozen=True)
class RawAnswer:
    """What came back to a request sent with http.client (no URL normalisation)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header_names(self) -> set[str]:
        return {name.lower() for name, _ in self.headers}


def _raw(stack: Stack, method: str, path: str, lines: list[tuple[str, str]]) -> RawAnswer:
    """Send `path` exactly as given, each (name, value) as its own header line."""
    host, port = urlsplit(stack.base_url).netloc.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in lines:
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return RawAnswer(response.status, response.getheaders(), response.read())
    finally:
        connection.close()


# --- only the cookie carries a token ----------------------------------------------------------

Channel = Callable[[SignedIn], tuple[str, dict[str, str]]]


def _basic(victim: SignedIn) -> str:
    return "Basic " + base64.b64encode(f"{victim.name}:{victim.password}".encode()).decode()


OTHER_CHANNELS: dict[str, Channel] = {
    "authorization-bearer-access-token": lambda v: (
        "/api/whoami",
        {"Authorization": f"Bearer {v.access}"},
    ),
    "authorization-bearer-refresh-token": lambda v: (
        "/api/whoami",
        {"Authorization": f"Bearer {v.refresh}"},
    ),
    "authorization-without-scheme": lambda v: ("/api/whoami", {"Authorization": v.access}),
    "authorization-basic-with-the-real-password": lambda v: (
        "/api/whoami",
        {"Authorization": _basic(v)},
    ),
    "query-access_token": lambda v: (f"/api/whoami?access_token={v.access}", {}),
    "query-named-like-the-cookie": lambda v: (f"/api/whoami?verifier-access={v.access}", {}),
    "query-refresh_token": lambda v: (f"/api/whoami?refresh_token={v.refresh}", {}),
    "query-token": lambda v: (f"/api/whoami?token={v.access}", {}),
    "header-x-access-token": lambda v: ("/api/whoami", {"X-Access-Token": v.access}),
    "header-x-auth-token": lambda v: ("/api/whoami", {"X-Auth-Token": v.access}),
    "header-named-like-the-cookie": lambda v: ("/api/whoami", {"Verifier-Access": v.access}),
    "cookie-with-the-secure-prefix-name": lambda v: (
        "/api/whoami",
        {"Cookie": f"__Host-verifier-access={v.access}"},
    ),
    "cookie-name-in-upper-case": lambda v: (
        "/api/whoami",
        {"Cookie": f"VERIFIER-ACCESS={v.access}"},
    ),
}


@pytest.mark.parametrize("channel", OTHER_CHANNELS.values(), ids=OTHER_CHANNELS.keys())
def test_token_outside_its_cookie_is_ignored(
    stack: Stack, victim: SignedIn, channel: Channel
) -> None:
    path, headers = channel(victim)

    assert_denied(get_page(stack, path, **headers))


def test_token_in_a_form_body_is_ignored(stack: Stack, victim: SignedIn) -> None:
    response = requests.post(
        stack.url("/api/whoami"),
        data={"verifier-access": victim.access, "access_token": victim.access},
        headers={"Accept": "application/json"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert_denied(response)


# --- /auth is internal ----------------------------------------------------------------------

AUTH_PROBES = [
    ("HEAD", "/auth"),
    ("PUT", "/auth"),
    ("DELETE", "/auth"),
    ("OPTIONS", "/auth"),
    ("PATCH", "/auth"),
    ("GET", "/auth?next=/"),
    ("GET", "//auth"),
    ("GET", "/./auth"),
    ("GET", "/auth/../auth"),
    ("GET", "/public/../auth"),
    ("GET", "/%61uth"),
    ("GET", "/auth%3F"),
    ("GET", "/auth/"),
    ("GET", "/auth/."),
    ("GET", "/auth%2F"),
    ("GET", "/AUTH"),
    ("GET", "/auth;jsessionid=1"),
    ("GET", "/auth/%2e%2e/auth"),
    ("GET", "/auth/login/../../auth"),
]


@pytest.mark.parametrize(("method", "path"), AUTH_PROBES, ids=[f"{m}-{p}" for m, p in AUTH_PROBES])
def test_auth_check_cannot_be_reached_from_outside(
    stack: Stack, victim: SignedIn, method: str, path: str
) -> None:
    # With a valid session attached: an answer from the check would leak its headers.
    answer = _raw(
        stack, method, path, [("Cookie", cookie_header(stack, victim.access, victim.refresh))]
    )

    assert answer.status == 404, (answer.status, answer.body[:200])
    assert not {name for name in answer.header_names() if name.startswith("x-verifier")}
    assert "set-cookie" not in answer.header_names()
    assert victim.name.encode() not in answer.body


# --- the app's identity comes from nginx only ------------------------------------------------


def test_repeated_identity_headers_are_all_replaced(stack: Stack, victim: SignedIn) -> None:
    answer = _raw(
        stack,
        "GET",
        "/api/headers",
        [
            ("Cookie", cookie_header(stack, access=victim.access)),
            ("X-Auth-User", "admin"),
            ("X-Auth-User", "root"),
            ("X-Auth-Session", "forged"),
            ("x-auth-session", "forged-again"),
        ],
    )

    assert answer.status == 200
    received = json.loads(answer.body)
    assert received["x-auth-user"] == victim.name
    assert received["x-auth-session"] == victim.session_id
    assert b"admin" not in answer.body
    assert b"root" not in answer.body
    assert b"forged" not in answer.body


def test_identity_header_with_underscores_never_reaches_the_app(
    stack: Stack, victim: SignedIn
) -> None:
    # WSGI maps X_Auth_User and X-Auth-User to one HTTP_X_AUTH_USER: nginx must drop it.
    response = get_page(
        stack,
        "/api/headers",
        cookie=cookie_header(stack, access=victim.access),
        X_Auth_User="admin",
        X_Auth_Session="forged",
    )

    assert response.status_code == 200
    assert response.json()["x-auth-user"] == victim.name
    assert "admin" not in response.text
    assert "forged" not in response.text


def test_identity_header_with_underscores_gets_nothing_without_a_login(stack: Stack) -> None:
    assert_denied(get_page(stack, "/api/headers", X_Auth_User="admin"))


VERIFIER_ANSWER_HEADERS = {
    "X-Verifier-Set-Access-Cookie": "verifier-access=planted; Path=/",
    "X-Verifier-Set-Refresh-Cookie": "verifier-refresh=planted; Path=/",
    "X-Verifier-Cache-Control": "public, max-age=86400",
}


def test_client_cannot_make_nginx_set_cookies(stack: Stack, victim: SignedIn) -> None:
    signed_in = get_page(
        stack, cookie=cookie_header(stack, access=victim.access), **VERIFIER_ANSWER_HEADERS
    )
    signed_out = get_page(stack, **VERIFIER_ANSWER_HEADERS)

    assert signed_in.status_code == 200
    assert signed_in.raw.headers.getlist("Set-Cookie") == []
    assert "public" not in signed_in.headers.get("Cache-Control", "")
    assert_denied(signed_out)


def test_client_cannot_choose_the_cookies_the_app_receives(stack: Stack, victim: SignedIn) -> None:
    response = get_page(
        stack,
        "/api/headers",
        cookie="theme=dark; " + cookie_header(stack, access=victim.access),
        **{"X-Verifier-Upstream-Cookie": "session=admin"},
    )

    assert response.status_code == 200
    assert response.json()["cookie"] == "theme=dark"


def test_client_cannot_choose_the_uri_the_login_page_returns_to(stack: Stack) -> None:
    response = get_page(stack, "/reports?id=7", **{"X-Original-URI": "//evil.example/x"})

    assert response.status_code == 401
    login_url = urlsplit(response.json()["login_url"])
    assert login_url.path == "/auth/login"
    assert parse_qs(login_url.query)["next"] == ["/reports?id=7"]
    assert response.raw.headers.getlist("Set-Cookie") == []
