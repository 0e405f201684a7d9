"""verifier.resources.body: JSON-or-form detection and strict parsing of small bodies."""

from __future__ import annotations

import asyncio
import json

import falcon
import falcon.testing
import pytest

from verifier.resources.body import MAX_BODY_BYTES, has_nul, read_fields, wants_json

FORM = "application/x-www-form-urlencoded"


def request(
    body: bytes = b"", content_type: str | None = None, **headers: str
) -> falcon.asgi.Request:
    if content_type is not None:
        headers["Content-Type"] = content_type
    return falcon.testing.create_asgi_req(body=body, headers=headers)


def fields(body: bytes, content_type: str | None) -> dict[str, str]:
    return asyncio.run(read_fields(request(body, content_type)))


# --- wants_json -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "accept", "expected"),
    [
        ("application/json", None, True),
        ("Application/JSON; charset=utf-8", None, True),
        (None, "application/json", True),
        (FORM, "application/json", True),
        (FORM, "text/html,application/xhtml+xml,application/json;q=0.9", False),
        (FORM, "*/*", False),
        (FORM, None, False),
        (None, None, False),
        ("text/plain", "text/html", False),
    ],
)
def test_wants_json_for_json_bodies_or_json_only_accept(
    content_type: str | None, accept: str | None, expected: bool
) -> None:
    headers = {"Accept": accept} if accept is not None else {}
    assert wants_json(request(content_type=content_type, **headers)) is expected


# --- JSON bodies ----------------------------------------------------------------------------------


def test_json_object_of_strings_is_read() -> None:
    body = json.dumps({"username": "alice", "password": "pw", "next": "/app"}).encode()
    assert fields(body, "application/json") == {
        "username": "alice",
        "password": "pw",
        "next": "/app",
    }


def test_json_nulls_are_dropped() -> None:
    assert fields(b'{"username": "alice", "next": null}', "application/json") == {
        "username": "alice"
    }


@pytest.mark.parametrize(
    ("body", "description"),
    [
        (b"{", "The body is not valid JSON."),
        (b"", "The body is not valid JSON."),
        (b"\xff\xfe", "The body is not valid JSON."),
        (b'["alice"]', "The body must be a JSON object."),
        (b'"alice"', "The body must be a JSON object."),
        (b'{"username": 1}', "Field 'username' must be a string."),
        (b'{"password": ["a"]}', "Field 'password' must be a string."),
        (b'{"next": {"a": 1}}', "Field 'next' must be a string."),
        (b'{"remember": true}', "Field 'remember' must be a string."),
    ],
)
def test_json_that_is_not_an_object_of_strings_is_a_400(body: bytes, description: str) -> None:
    with pytest.raises(falcon.HTTPBadRequest) as caught:
        fields(body, "application/json")
    assert caught.value.description == description


# --- form bodies ----------------------------------------------------------------------------------


def test_form_is_read_and_decoded() -> None:
    body = b"username=alice&password=p%40ss+word&next=%2Fapp%3Fx%3D1"
    assert fields(body, f"{FORM}; charset=UTF-8") == {
        "username": "alice",
        "password": "p@ss word",
        "next": "/app?x=1",
    }


def test_repeated_form_field_keeps_the_first_value() -> None:
    assert fields(b"username=alice&username=mallory", FORM) == {"username": "alice"}


def test_blank_form_values_are_kept() -> None:
    assert fields(b"username=&password=", FORM) == {"username": "", "password": ""}


@pytest.mark.parametrize(
    "body",
    [
        "username=alïce".encode(),
        b"username=%ff",
        b"&".join(b"f%d=x" % n for n in range(17)),
    ],
)
def test_malformed_form_is_a_400(body: bytes) -> None:
    with pytest.raises(falcon.HTTPBadRequest) as caught:
        fields(body, FORM)
    assert caught.value.description == "The form body is malformed."


# --- size and media type --------------------------------------------------------------------------


def test_body_at_the_size_limit_is_read() -> None:
    body = b"username=" + b"a" * (MAX_BODY_BYTES - len(b"username="))
    assert len(body) == MAX_BODY_BYTES
    assert len(fields(body, FORM)["username"]) == MAX_BODY_BYTES - len(b"username=")


def test_body_over_the_size_limit_is_a_413() -> None:
    with pytest.raises(falcon.HTTPContentTooLarge):
        fields(b"a" * (MAX_BODY_BYTES + 1), FORM)


@pytest.mark.parametrize("content_type", [None, "text/plain", "multipart/form-data; boundary=x"])
def test_other_media_types_are_a_415(content_type: str | None) -> None:
    with pytest.raises(falcon.HTTPUnsupportedMediaType):
        fields(b"username=alice", content_type)


# --- NUL bytes ------------------------------------------------------------------------------------


def test_has_nul_finds_a_nul_in_any_value() -> None:
    assert has_nul("alice", "pass\x00word")
    assert has_nul("\x00")
    assert not has_nul("alice", "password")
    assert not has_nul()
