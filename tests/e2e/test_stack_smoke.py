"""Smoke tests of the stack through nginx: the wiring of the two nginx snippets."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import requests

if TYPE_CHECKING:
    # Only for annotations: conftest is pytest's to import, not a test module's.
    from conftest import Stack

PAGE_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_auth_check_is_not_reachable_from_outside(stack: Stack) -> None:
    for method in ("GET", "POST"):
        response = requests.request(method, stack.url("/auth"), timeout=10)
        assert response.status_code == 404, method


def test_unauthenticated_page_navigation_redirects_to_login(stack: Stack) -> None:
    response = requests.get(
        stack.url("/reports/2024?sort=desc"),
        headers={"Accept": PAGE_ACCEPT, "Sec-Fetch-Mode": "navigate"},
        allow_redirects=False,
        timeout=10,
    )

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/auth/login"
    assert parse_qs(location.query)["next"] == ["/reports/2024?sort=desc"]
    # nginx hands on the verifier's empty redirect: no body, and no JSON Content-Type.
    assert response.content == b""
    assert "json" not in response.headers.get("Content-Type", "")


def test_public_path_needs_no_login(stack: Stack) -> None:
    response = requests.get(stack.url("/public/"), allow_redirects=False, timeout=10)

    assert response.status_code == 200
    assert "Public page" in response.text


def test_login_through_nginx_shows_the_user_on_the_app_page(stack: Stack) -> None:
    name, password = f"smoke-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    stack.create_user(name, password)

    session = requests.Session()
    login = session.post(
        stack.url("/auth/login"),
        data={"username": name, "password": password, "next": "/"},
        allow_redirects=False,
        timeout=10,
    )
    assert login.status_code == 303
    assert login.headers["Location"] == "/"
    cookies = login.raw.headers.getlist("Set-Cookie")
    assert sorted(cookie.split("=", 1)[0] for cookie in cookies) == [
        stack.access_cookie,
        stack.refresh_cookie,
    ]

    page = session.get(stack.url("/"), allow_redirects=False, timeout=10)
    assert page.status_code == 200
    assert f'<strong id="user">{name}</strong>' in page.text


def test_verifier_does_not_name_its_server_software(stack: Stack) -> None:
    # VerifierWorker turns uvicorn's "server: uvicorn" off; checked on the verifier itself,
    # since nginx would hide it anyway.
    for path in ("/auth", "/healthz", "/auth/login"):
        response = requests.get(stack.verifier_url + path, timeout=10)
        assert "server" not in response.headers, (path, response.headers)
