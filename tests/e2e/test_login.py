"""Login through nginx: form and JSON, generic failures, safe `next`, bad input, CSRF."""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING

import pytest
import requests
from e2e_helpers import (
    OPEN_REDIRECTS,
    PAGE_HEADERS,
    cookie_header,
    get_page,
    new_user,
    set_cookie_headers,
    set_cookies,
)

if TYPE_CHECKING:
    from conftest import Stack


def _form_login(stack: Stack, fields: dict[str, str], **headers: str) -> requests.Response:
    return requests.post(
        stack.url("/auth/login"), data=fields, headers=headers, allow_redirects=False, timeout=10
    )


def test_login_page_is_a_plain_form(stack: Stack) -> None:
    response = requests.get(stack.url("/auth/login?next=/reports"), timeout=10)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert '<form method="post" action="/auth/login"' in response.text
    assert 'name="next" value="/reports"' in response.text
    # No inline script: the one script tag is the passkey script (the e2e stacks have a
    # relying party), the verifier's own file.
    assert re.findall(r"<script[^>]*>", response.text) == [
        '<script src="/auth/static/webauthn.js" defer>'
    ]
    assert set_cookie_headers(response) == []


def test_form_login_redirects_to_next_with_both_cookies(stack: Stack) -> None:
    name, password = new_user(stack)

    response = _form_login(stack, {"username": name, "password": password, "next": "/a?b=1&c=2"})

    assert response.status_code == 303
    assert response.headers["Location"] == "/a?b=1&c=2"
    assert set(set_cookies(response)) == {stack.access_cookie, stack.refresh_cookie}
    assert response.headers["Cache-Control"] == "no-store"
    # An empty redirect: no body, so no Content-Type (Falcon's default said JSON).
    assert response.content == b""
    assert "Content-Type" not in response.headers


def test_json_login_answers_json_with_both_cookies(stack: Stack) -> None:
    name, password = new_user(stack)

    response = requests.post(
        stack.url("/auth/login"), json={"username": name, "password": password}, timeout=10
    )

    assert response.status_code == 200
    body = response.json()
    assert body["user"] == name
    cookies = set_cookies(response)
    assert cookies[stack.refresh_cookie].split(".")[1] == body["session"]


@pytest.mark.parametrize("next_value", OPEN_REDIRECTS)
def test_open_redirect_attempts_fall_back_to_root(stack: Stack, next_value: str) -> None:
    name, password = new_user(stack)

    response = _form_login(stack, {"username": name, "password": password, "next": next_value})

    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_unknown_user_and_wrong_password_look_the_same(stack: Stack) -> None:
    name, password = new_user(stack)
    ghost = f"ghost-{secrets.token_hex(4)}"

    wrong_password = _form_login(stack, {"username": name, "password": "not-" + password})
    unknown_user = _form_login(stack, {"username": ghost, "password": password})

    assert wrong_password.status_code == unknown_user.status_code == 401
    assert set_cookie_headers(wrong_password) == set_cookie_headers(unknown_user) == []
    assert "Invalid user name or password." in wrong_password.text
    # The form echoes the name typed; apart from that, the two pages are identical.
    assert wrong_password.text.replace(name, "NAME") == unknown_user.text.replace(ghost, "NAME")
    varying = {"date", "content-length"}
    assert {k: v for k, v in wrong_password.headers.items() if k.lower() not in varying} == {
        k: v for k, v in unknown_user.headers.items() if k.lower() not in varying
    }


def test_json_login_failures_have_one_body(stack: Stack) -> None:
    name, _ = new_user(stack)
    bodies = []
    for username in (name, f"ghost-{secrets.token_hex(4)}"):
        response = requests.post(
            stack.url("/auth/login"),
            json={"username": username, "password": "wrong-pass"},
            timeout=10,
        )
        assert response.status_code == 401
        assert set_cookie_headers(response) == []
        bodies.append(response.json())
    assert bodies[0] == bodies[1] == {"error": "Invalid user name or password."}


# Past bcrypt's 72 bytes (where a truncating hash stops reading), and the longest password
# a sign-in accepts (verifier.users.passwords.MAX_PASSWORD_LENGTH).
@pytest.mark.parametrize("length", [73, 1024])
def test_long_passwords_are_not_truncated(stack: Stack, length: int) -> None:
    # Its twin differs in the last character alone: a product that compared only a prefix
    # of the password would let the twin in.
    password = "p" * (length - 1) + "A"
    name = f"long-{secrets.token_hex(4)}"
    stack.create_user(name, password)

    ok = _form_login(stack, {"username": name, "password": password})
    twin = _form_login(stack, {"username": name, "password": password[:-1] + "B"})

    assert ok.status_code == 303
    assert set(set_cookies(ok)) == {stack.access_cookie, stack.refresh_cookie}
    assert twin.status_code == 401
    assert set_cookie_headers(twin) == []


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("application/json", "{not json", 400),
        ("application/json", '["a list"]', 400),
        ("application/json", '{"username": 5, "password": "x"}', 400),
        ("application/json", '{"username": "a"}', 400),
        ("application/x-www-form-urlencoded", "username=&password=", 400),
        ("application/x-www-form-urlencoded", "username=a%00b&password=secret-pass", 400),
        ("application/x-www-form-urlencoded", "username=a&password=%FF%FE", 400),
        ("text/plain", "username=a&password=b", 415),
        ("application/json", '{"username": "a", "password": "' + "x" * 20_000 + '"}', 413),
    ],
)
def test_bad_login_input_gets_a_clear_4xx(
    stack: Stack, content_type: str, body: str, status: int
) -> None:
    response = requests.post(
        stack.url("/auth/login"),
        data=body.encode(),
        headers={"Content-Type": content_type, "Accept": "application/json"},
        timeout=10,
    )

    assert response.status_code == status
    assert set_cookie_headers(response) == []


def test_cross_site_login_is_refused(stack: Stack) -> None:
    name, password = new_user(stack)

    for headers in (
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://evil.example"},
        {"Referer": "https://evil.example/form"},
    ):
        response = _form_login(stack, {"username": name, "password": password}, **headers)
        assert response.status_code == 403, headers
        assert set_cookie_headers(response) == []


def test_same_origin_browser_login_is_accepted(stack: Stack) -> None:
    name, password = new_user(stack)

    response = _form_login(
        stack,
        {"username": name, "password": password},
        Origin=stack.base_url,
        **{"Sec-Fetch-Site": "same-origin"},
    )

    assert response.status_code == 303


def test_login_never_reuses_cookies_it_arrived_with(stack: Stack) -> None:
    name, password = new_user(stack)
    planted = f"{name}.AAAAAAAAAAAAAAAAAAAAAA.{'B' * 43}"

    response = requests.post(
        stack.url("/auth/login"),
        data={"username": name, "password": password},
        headers={"Cookie": cookie_header(stack, "planted-access", planted)},
        allow_redirects=False,
        timeout=10,
    )

    cookies = set_cookies(response)
    assert cookies[stack.refresh_cookie] != planted
    assert "AAAAAAAAAAAAAAAAAAAAAA" not in cookies[stack.refresh_cookie]
    assert get_page(stack, cookie=cookie_header(stack, refresh=planted)).status_code == 401


def test_signed_out_page_navigation_lands_on_login_and_back(stack: Stack) -> None:
    name, password = new_user(stack)
    browser = stack.new_session()

    first = browser.get(stack.url("/reports?id=7"), headers=PAGE_HEADERS, timeout=10)
    assert first.url.startswith(stack.url("/auth/login?next="))
    response = browser.post(
        stack.url("/auth/login"),
        data={"username": name, "password": password, "next": "/reports?id=7"},
        allow_redirects=False,
        timeout=10,
    )

    assert response.headers["Location"] == "/reports?id=7"
