"""The language of the verifier's answers through nginx (issue 25, point 9): JSON errors,
Falcon's own error descriptions and the pages follow the client's Accept-Language (its
best match among the shipped catalogs, English when none fits) and say so in
Content-Language and Vary; VERIFIER_LANGUAGE forces one language for every request.

The expected words are read from the shipped catalogs, and checked to differ from the
English, so a test passes only when the catalog's translation reached the client."""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING

import pytest
import requests
from e2e_helpers import PAGE_HEADERS, TIMEOUT, set_cookie_headers

from verifier.i18n import load_catalogs

if TYPE_CHECKING:
    from conftest import Stack, StackFactory

pytestmark = pytest.mark.one_nginx

LOGIN = "/auth/login"
BAD_CREDENTIALS = "Invalid user name or password."
NOT_JSON = "The body is not valid JSON."
UNSUPPORTED = "Send application/json or application/x-www-form-urlencoded."


def _wrong_password() -> bytes:
    # A name of its own each time: the account throttle counts per name, and these tests
    # want the wrong password's answer, not the throttle's.
    name = f"nobody-{secrets.token_hex(4)}"
    return json.dumps({"username": name, "password": "wrong"}).encode()


def _in(language: str, message: str) -> str:
    translated = load_catalogs().translations[language].gettext(message)
    assert translated != message, f"{language} does not translate {message!r}"
    return translated


def _json_login(stack: Stack, language: str, body: bytes, content_type: str) -> requests.Response:
    return requests.post(
        stack.url(LOGIN),
        data=body,
        headers={
            "Content-Type": content_type,
            "Accept": "application/json",
            "Accept-Language": language,
        },
        timeout=TIMEOUT,
    )


def _varies_by_language(response: requests.Response) -> bool:
    vary = response.headers.get("Vary", "")
    return "accept-language" in [part.strip().lower() for part in vary.split(",")]


@pytest.mark.parametrize(
    ("accept_language", "language"),
    [("de-CH, fr;q=0.5", "de"), ("fr-CA,fr;q=0.9,en;q=0.8", "fr"), ("en;q=0.2, fr", "fr")],
)
def test_a_json_error_is_in_the_clients_language(
    stack: Stack, accept_language: str, language: str
) -> None:
    refused = _json_login(
        stack,
        accept_language,
        _wrong_password(),
        "application/json",
    )

    assert refused.status_code == 401
    assert refused.json() == {"error": _in(language, BAD_CREDENTIALS)}
    assert refused.headers["Content-Language"] == language
    assert _varies_by_language(refused)
    assert set_cookie_headers(refused) == []


@pytest.mark.parametrize("accept_language", ["ja, zh;q=0.5", "", "*", "x" * 600])
def test_a_language_the_verifier_does_not_have_gets_english(
    stack: Stack, accept_language: str
) -> None:
    refused = _json_login(
        stack,
        accept_language,
        _wrong_password(),
        "application/json",
    )

    assert refused.status_code == 401
    assert refused.json() == {"error": BAD_CREDENTIALS}
    assert refused.headers["Content-Language"] == "en"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"{not json", "application/json", 400, NOT_JSON),
        (b"username=a&password=b", "text/plain", 415, UNSUPPORTED),
    ],
)
def test_falcons_own_error_descriptions_are_translated(
    stack: Stack, body: bytes, content_type: str, status: int, message: str
) -> None:
    refused = _json_login(stack, "de", body, content_type)

    assert refused.status_code == status
    assert refused.json()["description"] == _in("de", message)
    assert refused.headers["Content-Language"] == "de"
    assert set_cookie_headers(refused) == []


def test_the_sign_in_page_is_in_the_browsers_language(stack: Stack) -> None:
    page = requests.get(
        stack.url(LOGIN), headers={**PAGE_HEADERS, "Accept-Language": "fr-FR"}, timeout=TIMEOUT
    )

    assert page.status_code == 200
    assert '<html lang="fr">' in page.text
    assert f"<h1>{_in('fr', 'Sign in')}</h1>" in page.text
    assert _varies_by_language(page)


def test_a_forced_language_answers_every_client_in_it(fresh_stack: StackFactory) -> None:
    stack = fresh_stack(VERIFIER_LANGUAGE="fr")

    page = requests.get(
        stack.url(LOGIN), headers={**PAGE_HEADERS, "Accept-Language": "de-DE, en"}, timeout=TIMEOUT
    )
    refused = _json_login(stack, "de", _wrong_password(), "application/json")

    assert '<html lang="fr">' in page.text
    assert page.headers["Content-Language"] == "fr"
    assert not _varies_by_language(page)  # one language for all: nothing for a cache to keep apart
    assert refused.json() == {"error": _in("fr", BAD_CREDENTIALS)}


def test_the_keys_are_not_in_any_language(stack: Stack) -> None:
    # For machines and cached by them: no Content-Language, and one copy for every reader.
    keys = requests.get(
        stack.url("/.well-known/jwks.json"), headers={"Accept-Language": "de"}, timeout=TIMEOUT
    )

    assert keys.status_code == 200
    assert "Content-Language" not in keys.headers
    assert not _varies_by_language(keys)
