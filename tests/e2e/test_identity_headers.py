"""The app behind nginx gets the identity from nginx only: client-sent values are replaced."""

from __future__ import annotations

from typing import TYPE_CHECKING

from e2e_helpers import cookie_header, get_page, new_user, sign_in

if TYPE_CHECKING:
    from conftest import Stack


def test_forged_identity_headers_are_overwritten(stack: Stack) -> None:
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)

    response = get_page(
        stack,
        "/api/headers",
        cookie=cookie_header(stack, signed.access, signed.refresh),
        **{"X-Auth-User": "admin", "x-auth-session": "forged", "X-Verifier-User": "admin"},
    )

    assert response.status_code == 200
    received = response.json()
    assert received["x-auth-user"] == name
    assert received["x-auth-session"] == signed.session_id


def test_forged_identity_header_without_login_gets_nothing(stack: Stack) -> None:
    response = get_page(stack, "/api/headers", **{"X-Auth-User": "admin"})

    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"


def test_public_location_strips_client_identity_headers(stack: Stack) -> None:
    response = get_page(stack, "/public/", **{"X-Auth-User": "admin"})

    assert response.status_code == 200
    assert "admin" not in response.text


def test_app_never_sees_the_token_cookies_but_keeps_its_own(stack: Stack) -> None:
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    cookie = "theme=dark; " + cookie_header(stack, signed.access, signed.refresh) + "; lang=en"

    response = get_page(stack, "/api/headers", cookie=cookie)

    assert response.status_code == 200
    assert response.json()["cookie"] == "theme=dark; lang=en"
    assert signed.refresh not in response.text
    assert signed.access not in response.text


def test_app_gets_no_cookie_header_when_only_token_cookies_were_sent(stack: Stack) -> None:
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)

    response = get_page(
        stack, "/api/headers", cookie=cookie_header(stack, signed.access, signed.refresh)
    )

    assert response.status_code == 200
    assert "cookie" not in response.json()
