"""/auth answered in the worker's protocol from its caches (verifier/service/fast_auth.py):
the same bytes as the ASGI route, and every request the caches cannot decide left to it.

Each test speaks HTTP/1.1 to the verifier's Unix socket as nginx does, on one keep-alive
connection (so one worker and its caches answer every request), and reads which route
answered from the worker's DEBUG line for each answer ("... from its caches" for this one).
"""

from __future__ import annotations

import re
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from e2e_helpers import (
    cookie_header,
    eventually,
    expired_access_token,
    new_user,
    post_logout,
    sign_in,
)
from token_helpers import make_token, service_account

if TYPE_CHECKING:
    from conftest import Stack

FAST = "fast"
ASGI = "asgi"
_ANSWER_LINE = re.compile(
    rb"worker \d+ answered (\d{3}) for \S+ \S*[?&]mark=([0-9a-f]+)( from its caches)?$",
    re.MULTILINE,
)
_DATE_VALUE = re.compile(rb"\r\ndate: [^\r]*")


class NginxLikeConnection:
    """One keep-alive connection to the verifier's socket, sending what nginx's
    `location = /auth` sends."""

    def __init__(self, path: Path) -> None:
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket.settimeout(30)
        self._socket.connect(str(path))
        self._buffer = b""

    def close(self) -> None:
        self._socket.close()

    def send(self, raw: bytes) -> None:
        self._socket.sendall(raw)

    def response(self) -> bytes:
        """The next whole response, as the bytes on the wire."""
        while b"\r\n\r\n" not in self._buffer:
            self._read()
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        whole = head + b"\r\n\r\n"
        if b"\r\ntransfer-encoding: chunked" in head:
            while b"0\r\n\r\n" not in rest:
                self._read()
                head, _, rest = self._buffer.partition(b"\r\n\r\n")
            body, _, rest = rest.partition(b"0\r\n\r\n")
            whole += body + b"0\r\n\r\n"
        self._buffer = rest
        return whole

    def _read(self) -> None:
        data = self._socket.recv(65536)
        assert data, f"the verifier closed the connection; unread: {self._buffer!r}"
        self._buffer += data


def check_request(
    cookie: str,
    mark: str,
    *,
    method: bytes = b"GET",
    require: str = "",
    extra: bytes = b"",
    target: bytes = b"/auth",
    version: bytes = b"HTTP/1.1",
) -> bytes:
    """An /auth request as nginx's snippet sends it, marked in its X-Original-URI."""
    lines = [
        method + b" " + target + b" " + version,
        b"Host: app.localhost",
        b"X-Original-URI: /reports?mark=" + mark.encode(),
        b"X-Original-Method: GET",
        b"Cookie: " + cookie.encode("latin-1"),
    ]
    if require:
        lines.append(b"X-Verifier-Require: " + require.encode())
    return b"\r\n".join(lines) + b"\r\n" + extra + b"\r\n"


@pytest.fixture
def connection(stack: Stack) -> Iterator[NginxLikeConnection]:
    opened = NginxLikeConnection(stack.workdir / "verifier.sock")
    yield opened
    opened.close()


def routes(stack: Stack, mark: str, count: int) -> list[tuple[int, str]]:
    """(status, route) of the `count` answers to requests marked `mark`, in order."""
    log_path = stack.processes["verifier"].log_path

    def found() -> list[tuple[int, str]]:
        return [
            (int(match.group(1)), FAST if match.group(3) else ASGI)
            for match in _ANSWER_LINE.finditer(log_path.read_bytes())
            if match.group(2) == mark.encode()
        ]

    return eventually(found, lambda seen: len(seen) >= count, what=f"{count} answers to {mark}")


def without_date(response: bytes) -> bytes:
    # The one value that may differ between two answers: the second they were written in.
    return _DATE_VALUE.sub(b"\r\ndate: (the second it was written)", response)


def ask_twice(
    stack: Stack, connection: NginxLikeConnection, cookie: str, **request: object
) -> tuple[bytes, bytes, list[tuple[int, str]]]:
    """The same check twice on one connection: the first answer (a cache miss: the ASGI
    route, which fills the caches), the second, and the route of each."""
    mark = secrets.token_hex(6)
    raw = check_request(cookie, mark, **request)  # type: ignore[arg-type]
    connection.send(raw)
    first = connection.response()
    connection.send(raw)
    second = connection.response()
    return first, second, routes(stack, mark, 2)


@pytest.mark.parametrize(
    ("groups", "require", "status"),
    [
        ((), "", 204),
        (("staff",), "group:staff", 204),
        ((), "group:admins", 403),
        ((), "mfa", 401),
    ],
    ids=["allowed", "allowed-by-group", "forbidden", "step-up"],
)
def test_a_cached_decision_is_answered_by_the_protocol_with_the_asgi_routes_bytes(
    stack: Stack,
    connection: NginxLikeConnection,
    groups: tuple[str, ...],
    require: str,
    status: int,
) -> None:
    name, password = new_user(stack)
    if groups:
        stack.cli("users", "groups", name, *[f"--add={group}" for group in groups])
    signed = sign_in(stack, name, password)
    cookie = cookie_header(stack, signed.access) + "; theme=dark"

    first, second, answered = ask_twice(stack, connection, cookie, require=require)

    assert answered == [(status, ASGI), (status, FAST)]
    assert without_date(second) == without_date(first)
    assert first.startswith(b"HTTP/1.1 %d " % status)
    assert b"\r\nx-verifier-user: " + name.encode() + b"\r\n" in second
    if status == 204:
        assert b"\r\nx-verifier-upstream-cookie: theme=dark\r\n" in second
    else:
        assert b"x-verifier-session" not in second


def test_a_head_check_is_answered_from_the_caches_without_a_body(
    stack: Stack, connection: NginxLikeConnection
) -> None:
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)

    first, second, answered = ask_twice(
        stack, connection, cookie_header(stack, signed.access), method=b"HEAD", require="mfa"
    )

    assert answered == [(401, ASGI), (401, FAST)]
    assert without_date(second) == without_date(first)
    assert second.endswith(b"\r\n\r\n") and b"transfer-encoding" not in second


def test_a_session_ended_is_refused_on_the_asgi_route_at_the_next_check(
    stack: Stack, connection: NginxLikeConnection
) -> None:
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    cookie = cookie_header(stack, signed.access)
    _, _, answered = ask_twice(stack, connection, cookie)
    assert answered == [(204, ASGI), (204, FAST)]  # the worker holds the session

    ended = post_logout(stack, cookie_header(stack, signed.access, signed.refresh))
    assert ended.status_code == 200, ended.text

    def check() -> tuple[bytes, list[tuple[int, str]]]:
        mark = secrets.token_hex(6)
        connection.send(check_request(cookie, mark))
        return connection.response(), routes(stack, mark, 1)

    response, answered = eventually(
        check,
        lambda seen: seen[0].startswith(b"HTTP/1.1 401 "),
        what="the worker to refuse the ended session",
    )
    assert answered == [(401, ASGI)]
    assert b"x-verifier-set-" not in response


@pytest.mark.parametrize(
    "request_shape",
    [
        {"target": b"/auth?x=1"},
        {"version": b"HTTP/1.0", "extra": b"Connection: keep-alive\r\n"},
        {"extra": b"Connection: close\r\n"},
        {"method": b"POST", "extra": b"Content-Length: 2\r\n"},
    ],
    ids=["query-string", "http-1.0", "connection-close", "body"],
)
def test_a_check_the_protocol_must_not_answer_goes_the_asgi_route(
    stack: Stack, request_shape: dict[str, bytes]
) -> None:
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    cookie = cookie_header(stack, signed.access)
    mark = secrets.token_hex(6)
    body = b"{}" if b"Content-Length" in request_shape.get("extra", b"") else b""

    answers = []
    for _ in range(2):  # the first fills the caches; the second would be theirs to answer
        connection = NginxLikeConnection(stack.workdir / "verifier.sock")
        try:
            connection.send(check_request(cookie, mark, **request_shape) + body)
            answers.append(connection.response())
        finally:
            connection.close()

    assert routes(stack, mark, 2) == [(204, ASGI), (204, ASGI)]
    assert all(answer.startswith(b"HTTP/1.1 204 ") for answer in answers)


def test_an_expired_token_goes_the_asgi_route_and_refreshes(
    stack: Stack, connection: NginxLikeConnection
) -> None:
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    expired = expired_access_token(stack, name, signed.session_id)
    cookie = cookie_header(stack, expired, signed.refresh)
    mark = secrets.token_hex(6)

    connection.send(check_request(cookie, mark))
    refreshed = connection.response()

    assert routes(stack, mark, 1) == [(204, ASGI)]
    assert b"\r\nx-verifier-set-access-cookie: " in refreshed
    assert b"\r\nx-verifier-set-refresh-cookie: " in refreshed


def bearer_line(token: str) -> bytes:
    return b"Authorization: Bearer " + token.encode() + b"\r\n"


def test_a_cached_api_token_is_answered_by_the_protocol_with_the_asgi_routes_bytes(
    stack: Stack, connection: NginxLikeConnection
) -> None:
    made = make_token(stack, service_account(stack))

    first, second, answered = ask_twice(
        stack, connection, "theme=dark", extra=bearer_line(made.token)
    )

    assert answered == [(204, ASGI), (204, FAST)]
    assert without_date(second) == without_date(first)
    assert b"\r\nx-verifier-user: " + made.owner.encode() + b"\r\n" in second
    assert b"\r\nx-verifier-token-id: " + made.token_id.encode() + b"\r\n" in second
    assert b"\r\nx-verifier-upstream-cookie: theme=dark\r\n" in second
    assert made.token.encode() not in second and b"x-verifier-session" not in second


def test_a_revoked_api_token_is_refused_on_the_asgi_route_at_the_next_check(
    stack: Stack, connection: NginxLikeConnection
) -> None:
    made = make_token(stack, service_account(stack))
    _, _, answered = ask_twice(stack, connection, "", extra=bearer_line(made.token))
    assert answered == [(204, ASGI), (204, FAST)]  # the worker vouches for the token

    stack.cli("tokens", "revoke", "--user", made.owner, made.token_id)

    def check() -> tuple[bytes, list[tuple[int, str]]]:
        mark = secrets.token_hex(6)
        connection.send(check_request("", mark, extra=bearer_line(made.token)))
        return connection.response(), routes(stack, mark, 1)

    response, answered = eventually(
        check,
        lambda seen: seen[0].startswith(b"HTTP/1.1 401 "),
        what="the worker to refuse the revoked token",
    )
    assert answered == [(401, ASGI)]
    assert b"x-verifier-set-" not in response and b"x-verifier-user" not in response


@pytest.mark.parametrize(
    ("scopes", "require"),
    [(("path:/api/",), ""), ((), "group:admins")],
    ids=["outside-its-scope", "refused-by-the-location"],
)
def test_a_token_refused_here_goes_the_asgi_route_every_time(
    stack: Stack, connection: NginxLikeConnection, scopes: tuple[str, ...], require: str
) -> None:
    made = make_token(stack, service_account(stack), *scopes)

    first, second, answered = ask_twice(
        stack, connection, "", extra=bearer_line(made.token), require=require
    )

    # Each refusal is recorded and counted where refusals are: never from the caches.
    assert answered == [(403, ASGI), (403, ASGI)]
    assert first.startswith(b"HTTP/1.1 403 ") and second.startswith(b"HTTP/1.1 403 ")


def test_pipelined_checks_are_answered_in_order(
    stack: Stack, connection: NginxLikeConnection
) -> None:
    name, password = new_user(stack)
    signed = sign_in(stack, name, password)
    allowed = cookie_header(stack, signed.access)
    mark = secrets.token_hex(6)
    connection.send(check_request(allowed, mark))
    connection.response()  # the caches hold the session now

    # Three checks in one write: cached, a refused cookie (the ASGI route), cached again.
    connection.send(
        check_request(allowed, mark)
        + check_request("nothing=here", mark)
        + check_request(allowed, mark, require="group:admins")
    )
    statuses = [connection.response().split(b" ", 2)[1] for _ in range(3)]

    assert statuses == [b"204", b"401", b"403"]
    answered = routes(stack, mark, 4)[1:]
    assert answered[:2] == [(204, FAST), (401, ASGI)]
    # The third waits behind the second when both came in one read (the ASGI route answers
    # it after), or is the protocol's when the second was answered first: 403 either way.
    assert answered[2][0] == 403
