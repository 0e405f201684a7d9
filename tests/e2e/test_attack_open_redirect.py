"""Open redirects through nginx: every way a `next` reaches the verifier lands on this site.

Already proven in test_login.py and not repeated: the issue's nine payloads as the `next`
field of a form login. Here: the same and more in a JSON login, in the query string of a
form login, on the login page itself, and as the very URI that sends a visitor to log in.
"""

from __future__ import annotations

import http.client
import json
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests
from attack_helpers import fresh_user
from e2e_helpers import OPEN_REDIRECTS, PAGE_HEADERS, TIMEOUT, set_cookies

if TYPE_CHECKING:
    from conftest import Stack

PAYLOADS = [
    *OPEN_REDIRECTS,  # the list
    # More of the same family.
    "///evil.example",
    "%2F%2Fevil.example",
    "/%2f%2fevil.example",
    "/%252F%252Fevil.example",
    "/%5Cevil.example",
    "/%5C%5Cevil.example",
    "http:/evil.example",
    " //evil.example",
    "/\t/evil.example",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/auth/login?next=//evil.example",
    # Header injection through the Location header.
    "/\r\nSet-Cookie: planted=1",
    "/%0D%0ASet-Cookie:%20planted=1",
]
IDS = [repr(p)[1:-1] for p in PAYLOADS]


@pytest.fixture(scope="module")
def credentials(stack: Stack) -> tuple[str, str]:
    return fresh_user(stack, "traveller")


def _assert_no_planted_cookie(response: requests.Response) -> None:
    assert "planted" not in set_cookies(response)
    assert all("\n" not in value and "\r" not in value for value in response.headers.values())


@pytest.mark.parametrize("payload", PAYLOADS, ids=IDS)
def test_json_login_answers_a_same_site_next(
    stack: Stack, credentials: tuple[str, str], payload: str
) -> None:
    name, password = credentials

    response = requests.post(
        stack.url("/auth/login"),
        json={"username": name, "password": password, "next": payload},
        timeout=TIMEOUT,
    )

    assert response.status_code == 200
    assert response.json()["next"] == "/"
    _assert_no_planted_cookie(response)


@pytest.mark.parametrize("payload", PAYLOADS, ids=IDS)
def test_form_login_with_next_in_the_query_string_lands_on_root(
    stack: Stack, credentials: tuple[str, str], payload: str
) -> None:
    name, password = credentials

    response = requests.post(
        stack.url("/auth/login"),
        params={"next": payload},
        data={"username": name, "password": password},
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    _assert_no_planted_cookie(response)


@pytest.mark.parametrize("payload", PAYLOADS, ids=IDS)
def test_login_page_never_carries_a_foreign_next(stack: Stack, payload: str) -> None:
    response = requests.get(stack.url("/auth/login"), params={"next": payload}, timeout=TIMEOUT)

    assert response.status_code == 200
    assert 'name="next" value="/"' in response.text
    assert "evil.example" not in response.text
    assert "alert(1)" not in response.text
    assert set_cookies(response) == {}


RAW_PATHS = [
    "//evil.example",
    "///evil.example/",
    "/\\evil.example",
    "/%2F%2Fevil.example",
    "/%5C%5Cevil.example",
    "/%09/evil.example",
    "//evil.example/%2e%2e",
]
ACCEPTS = {
    "page-navigation": dict(PAGE_HEADERS),
    "api-call": {"Accept": "application/json"},
}


def _is_same_site_path(path: str) -> bool:
    for form in (path, unquote(path), unquote(unquote(path))):
        if not form.startswith("/") or form.startswith("//") or "\\" in form:
            return False
        if any(ord(char) < 0x20 for char in form):
            return False
    return True


@pytest.mark.parametrize("kind", ACCEPTS.keys())
@pytest.mark.parametrize("raw_path", RAW_PATHS)
def test_signed_out_visit_to_a_hostile_uri_is_sent_to_a_same_site_login(
    stack: Stack, raw_path: str, kind: str
) -> None:
    host, port = urlsplit(stack.base_url).netloc.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    try:
        connection.putrequest("GET", raw_path)
        for name, value in ACCEPTS[kind].items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        body = response.read()
        status, location = response.status, response.getheader("Location")
        cookies = response.getheader("Set-Cookie")
    finally:
        connection.close()

    assert cookies is None
    if kind == "page-navigation":
        assert status == 302, body
        assert location is not None
        login_url = location
    else:
        assert status == 401, body
        login_url = json.loads(body)["login_url"]
    parts = urlsplit(login_url)
    assert (parts.scheme, parts.netloc, parts.path) == ("", "", "/auth/login")
    for next_path in parse_qs(parts.query).get("next", []):
        assert _is_same_site_path(next_path), next_path
