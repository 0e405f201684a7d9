"""HTTP through the bench nginx for set-up and probes: logins (the real endpoint) and GETs."""

from __future__ import annotations

import http.client
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from bench.stack import Endpoints

LOGIN_PATH = "/auth/login"
# Logins hash a password (tens of ms each); a few at once fill both cores without queueing.
_PARALLEL_LOGINS = 4
_TIMEOUT_SECONDS = 30.0


class LoginFailed(RuntimeError):
    """The login endpoint did not answer 200 with both token cookies."""


@dataclass(frozen=True)
class Session:
    """The two token cookie values of one login."""

    access_token: str
    refresh_token: str


@dataclass(frozen=True)
class Reply:
    """A response: status, every Set-Cookie value in order, and the body."""

    status: int
    set_cookies: list[str]
    body: bytes
    # The one header a probe reads besides the cookies (see probes.expect_assertion).
    assertion: str | None = None

    def __str__(self) -> str:
        return f"{self.status}, Set-Cookie {self.set_cookies}, body {self.body[:200]!r}"


def login(endpoints: Endpoints) -> Session:
    """Log in once with the bench user's password; return the cookies the verifier set."""
    body = json.dumps({"username": endpoints.user_name, "password": endpoints.password})
    reply = _request(
        endpoints,
        "POST",
        LOGIN_PATH,
        {"Content-Type": "application/json", "Accept": "application/json"},
        body,
    )
    values = _cookie_values(reply.set_cookies)
    access = values.get(endpoints.access_cookie)
    refresh = values.get(endpoints.refresh_cookie)
    if reply.status != 200 or not access or not refresh:
        raise LoginFailed(f"login answered {reply}")
    return Session(access_token=access, refresh_token=refresh)


def login_many(endpoints: Endpoints, count: int) -> list[Session]:
    """`count` independent sessions of the bench user."""
    with ThreadPoolExecutor(_PARALLEL_LOGINS) as pool:
        return list(pool.map(lambda _: login(endpoints), range(count)))


def get(endpoints: Endpoints, path: str, headers: dict[str, str]) -> Reply:
    """GET a path through nginx."""
    return _request(endpoints, "GET", path, headers, None)


def _request(
    endpoints: Endpoints, method: str, path: str, headers: dict[str, str], body: str | None
) -> Reply:
    # http.client rather than a cookie-jar client: the raw Set-Cookie headers are what the
    # scenarios check, and a jar would drop the Secure cookies over plain http.
    connection = http.client.HTTPConnection(
        urlsplit(endpoints.base_url).netloc, timeout=_TIMEOUT_SECONDS
    )
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return Reply(
            status=response.status,
            set_cookies=response.headers.get_all("Set-Cookie") or [],
            body=response.read(),
            assertion=response.headers.get("X-Bench-Assertion"),
        )
    finally:
        connection.close()


def _cookie_values(set_cookies: list[str]) -> dict[str, str]:
    # "name=value; Path=/; ..." -> {name: value}; the attributes are not needed here.
    values: dict[str, str] = {}
    for header in set_cookies:
        name, _, rest = header.partition("=")
        values[name.strip()] = rest.split(";", 1)[0].strip()
    return values
