"""Garbage in the token cookies, through nginx: malformed, oversized, duplicated, swapped.

Whatever arrives, the answer is a denial with no Set-Cookie: a 401 from the verifier, or a
400 from nginx itself for what it will not even parse (a NUL byte, a header line beyond
large_client_header_buffers, 8 KB by default). Never a 2xx, never a 5xx.
"""

from __future__ import annotations

import http.client
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
import requests
from attack_helpers import assert_denied, assert_refused, fresh_user, segment
from e2e_helpers import TIMEOUT, SignedIn, cookie_header, get_page, sign_in

if TYPE_CHECKING:
    from conftest import Stack

# nginx's default large_client_header_buffers is 4 x 8k: a longer header line is refused.
NGINX_HEADER_LINE_LIMIT = 8192


@pytest.fixture(scope="module")
def victim(stack: Stack) -> SignedIn:
    return sign_in(stack, *fresh_user(stack, "victim"))


def _raw_get(stack: Stack, cookie: bytes) -> requests.Response:
    return requests.get(
        stack.url("/api/whoami"),
        headers={"Accept": "application/json", "Cookie": cookie},
        allow_redirects=False,
        timeout=TIMEOUT,
    )


@dataclass(frozen=True)
class RawAnswer:
    """Status, Set-Cookie lines and JSON body of a request sent with http.client."""

    status: int
    set_cookies: list[str]
    body: bytes


def _get_with_header_lines(stack: Stack, lines: list[tuple[str, str]]) -> RawAnswer:
    """GET /api/whoami sending each (name, value) as its own header line, repeats included."""
    netloc = urlsplit(stack.base_url).netloc
    host, port = netloc.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    try:
        connection.putrequest("GET", "/api/whoami")
        connection.putheader("Accept", "application/json")
        for name, value in lines:
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return RawAnswer(
            status=response.status,
            set_cookies=[v for k, v in response.getheaders() if k.lower() == "set-cookie"],
            body=response.read(),
        )
    finally:
        connection.close()


def _token_like(header: object, payload: object, signature: str = "c2ln") -> str:
    return f"{segment(header)}.{segment(payload)}.{signature}"


AccessValue = Callable[[SignedIn], str]

MALFORMED_ACCESS: dict[str, AccessValue] = {
    "empty": lambda v: "",
    "one-segment": lambda v: "eyJhbGciOiJIUzI1NiJ9",
    "two-segments": lambda v: ".".join(v.access.split(".")[:2]),
    "four-segments": lambda v: v.access + ".c2ln",
    "five-segments": lambda v: v.access + ".a.b",
    "only-dots": lambda v: "..",
    "not-base64url": lambda v: "e@y+J.h@b+G.c@i+O",
    "base64-of-non-json": lambda v: "bm90IGpzb24.bm90IGpzb24.bm90IGpzb24",
    "header-is-a-json-list": lambda v: _token_like(["alg", "HS256"], {"sub": v.name}),
    "header-is-a-json-string": lambda v: _token_like("HS256", {"sub": v.name}),
    "header-is-json-null": lambda v: _token_like(None, {"sub": v.name}),
    "payload-is-a-json-list": lambda v: _token_like({"alg": "HS256", "typ": "at+jwt"}, [1]),
    "genuine-token-doubled": lambda v: v.access + v.access,
    "genuine-token-reversed": lambda v: v.access[::-1],
    "genuine-token-upper-cased": lambda v: v.access.upper(),
    "over-the-token-length-limit": lambda v: "A" * 3000,
}

RAW_COOKIES: dict[str, tuple[Callable[[Stack, SignedIn], bytes], int]] = {
    # Reaches the verifier: 401.
    "utf8-unicode-value": (lambda s, v: f"{s.access_cookie}=ünïcødé.tøkén.✓".encode(), 401),
    "unicode-appended-to-a-genuine-token": (
        lambda s, v: f"{s.access_cookie}={v.access}é".encode(),
        401,
    ),
    "latin1-bytes": (lambda s, v: s.access_cookie.encode() + b"=\xff\xfe\xfd", 401),
    "control-character": (lambda s, v: f"{s.access_cookie}=a\x01b.c\x02d.e\x7f".encode(), 401),
    "value-just-under-nginx-limit": (
        lambda s, v: f"{s.access_cookie}={'A' * (NGINX_HEADER_LINE_LIMIT - 200)}".encode(),
        401,
    ),
    "five-hundred-cookies-then-a-forged-one": (
        lambda s, v: (
            "; ".join(f"c{i}=v" for i in range(500)) + f"; {s.access_cookie}=x.y.z"
        ).encode(),
        401,
    ),
    # Refused by nginx before any upstream sees it: 400.
    "nul-byte": (lambda s, v: f"{s.access_cookie}=".encode() + b"\x00" + v.access.encode(), 400),
    "8-kb-value": (lambda s, v: f"{s.access_cookie}={'A' * NGINX_HEADER_LINE_LIMIT}".encode(), 400),
    "8-kb-value-after-a-genuine-token": (
        lambda s, v: f"{s.access_cookie}={v.access}; pad={'A' * NGINX_HEADER_LINE_LIMIT}".encode(),
        400,
    ),
    "64-kb-value": (lambda s, v: f"{s.access_cookie}={'A' * 65_536}".encode(), 400),
}


@pytest.mark.parametrize("value", MALFORMED_ACCESS.values(), ids=MALFORMED_ACCESS.keys())
def test_malformed_access_cookie_is_denied(
    stack: Stack, victim: SignedIn, value: AccessValue
) -> None:
    response = get_page(stack, cookie=cookie_header(stack, access=value(victim)))

    assert_denied(response)


@pytest.mark.parametrize(("cookie", "status"), RAW_COOKIES.values(), ids=RAW_COOKIES.keys())
def test_hostile_cookie_bytes_are_denied(
    stack: Stack,
    victim: SignedIn,
    cookie: Callable[[Stack, SignedIn], bytes],
    status: int,
) -> None:
    response = _raw_get(stack, cookie(stack, victim))

    if status == 401:
        assert_denied(response)
    else:
        assert_refused(response, status)


MALFORMED_REFRESH: dict[str, Callable[[SignedIn], str]] = {
    "empty": lambda v: "",
    "one-part": lambda v: v.refresh.replace(".", ""),
    "two-parts": lambda v: v.refresh.rsplit(".", 1)[0],
    "four-parts": lambda v: v.refresh + ".extra",
    "empty-session-id": lambda v: f"{v.name}..{v.refresh.rsplit('.', 1)[1]}",
    "session-id-one-short": lambda v: v.refresh.replace(v.session_id, v.session_id[:-1]),
    "secret-one-short": lambda v: v.refresh[:-1],
    "secret-one-long": lambda v: v.refresh + "A",
    "user-in-upper-case": lambda v: v.refresh.replace(v.name, v.name.upper(), 1),
    "user-with-hash-tag-braces": lambda v: "{" + v.refresh.replace(".", "}.", 1),
    "user-as-redis-glob": lambda v: "*." + v.refresh.split(".", 1)[1],
    "user-with-path-traversal": lambda v: "../" + v.refresh,
    "globs-everywhere": lambda v: "*.*.*",
    "access-token-as-refresh": lambda v: v.access,
}


@pytest.mark.parametrize("value", MALFORMED_REFRESH.values(), ids=MALFORMED_REFRESH.keys())
def test_malformed_refresh_cookie_is_denied(
    stack: Stack, victim: SignedIn, value: Callable[[SignedIn], str]
) -> None:
    response = get_page(stack, cookie=cookie_header(stack, refresh=value(victim)))

    assert_denied(response)


def test_refresh_token_in_the_access_cookie_is_denied(stack: Stack, victim: SignedIn) -> None:
    assert_denied(get_page(stack, cookie=cookie_header(stack, access=victim.refresh)))


def test_swapped_token_cookies_are_denied(stack: Stack, victim: SignedIn) -> None:
    assert_denied(get_page(stack, cookie=cookie_header(stack, victim.refresh, victim.access)))


DUPLICATES = {
    "genuine-then-planted": lambda genuine: [genuine, "planted"],
    "planted-then-genuine": lambda genuine: ["planted", genuine],
}


@pytest.mark.parametrize("order", DUPLICATES.values(), ids=DUPLICATES.keys())
def test_duplicated_access_cookie_is_ambiguous_and_denied(
    stack: Stack, victim: SignedIn, order: Callable[[str], list[str]]
) -> None:
    # A cookie planted for a parent domain or path arrives next to the real one.
    cookie = "; ".join(f"{stack.access_cookie}={value}" for value in order(victim.access))

    assert_denied(get_page(stack, cookie=cookie))


@pytest.mark.parametrize("order", DUPLICATES.values(), ids=DUPLICATES.keys())
def test_duplicated_refresh_cookie_is_ambiguous_and_denied(
    stack: Stack, order: Callable[[str], list[str]]
) -> None:
    signed = sign_in(stack, *fresh_user(stack, "planted"))
    cookie = "; ".join(f"{stack.refresh_cookie}={value}" for value in order(signed.refresh))

    assert_denied(get_page(stack, cookie=cookie))


@pytest.mark.parametrize("order", DUPLICATES.values(), ids=DUPLICATES.keys())
def test_access_cookie_repeated_across_cookie_header_lines_is_denied(
    stack: Stack, victim: SignedIn, order: Callable[[str], list[str]]
) -> None:
    # The same ambiguity split over two Cookie lines (a client, or a proxy, that does not
    # fold them into one) must not turn into "the last line wins".
    lines = [("Cookie", f"{stack.access_cookie}={value}") for value in order(victim.access)]

    answer = _get_with_header_lines(stack, lines)

    assert answer.status == 401, answer.body
    assert answer.set_cookies == []


@pytest.mark.parametrize("order", DUPLICATES.values(), ids=DUPLICATES.keys())
def test_refresh_cookie_repeated_across_cookie_header_lines_is_denied(
    stack: Stack, order: Callable[[str], list[str]]
) -> None:
    signed = sign_in(stack, *fresh_user(stack, "planted"))
    lines = [("Cookie", f"{stack.refresh_cookie}={value}") for value in order(signed.refresh)]

    answer = _get_with_header_lines(stack, lines)

    assert answer.status == 401, answer.body
    assert answer.set_cookies == []


def test_many_cookie_header_lines_are_denied(stack: Stack) -> None:
    lines = [("Cookie", f"pad{i}={'A' * 4000}") for i in range(6)]
    lines.append(("Cookie", f"{stack.access_cookie}=x.y.z"))

    answer = _get_with_header_lines(stack, lines)

    assert answer.status == 401, answer.body
    assert answer.set_cookies == []


def test_another_header_with_a_control_character_is_a_denial_not_an_outage(
    stack: Stack,
) -> None:
    # auth_request subrequests carry every client header to the verifier.
    response = requests.get(
        stack.url("/api/whoami"),
        headers={"Accept": "application/json", "X-Anything": b"a\x01b"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert_denied(response)


def _send_request_target(stack: Stack, request_target: bytes) -> bytes:
    """Send a GET for `request_target` byte for byte (no client-side escaping); the answer."""
    host, port = urlsplit(stack.base_url).netloc.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as connection:
        connection.sendall(
            b"GET "
            + request_target
            + b" HTTP/1.1\r\nHost: "
            + host.encode()
            + b"\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
        )
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize(
    "target",
    [b"/api/whoami?a=\x01b", b"/api/who\x01ami", b"/api/whoami?a=\x7f"],
    ids=["in-the-query", "in-the-path", "delete-in-the-query"],
)
def test_raw_control_character_in_the_uri_is_refused_by_nginx(stack: Stack, target: bytes) -> None:
    answer = _send_request_target(stack, target)

    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert b"\r\nset-cookie:" not in answer.lower()


def test_percent_encoded_control_character_in_the_uri_is_a_denial_not_an_outage(
    stack: Stack,
) -> None:
    # Decoded it would be a control character in X-Original-URI; nginx forwards
    # $request_uri still encoded, so the verifier's parser accepts it and denies.
    answer = _send_request_target(stack, b"/api/%01who%7Fami?next=%00")

    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
    assert b"\r\nset-cookie:" not in answer.lower()
    assert answer.endswith(b'"error": "unauthenticated", "login_url": "/auth/login"}')
