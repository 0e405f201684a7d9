"""Pre-flight probes: one plain request proves a scenario measures what it claims.

A protected URL that answered without its check would pass every request and measure
nothing; a refresh whose rotated cookie wrk cannot see would count every rotation as lost.
"""

from __future__ import annotations

import time
import urllib.request

import jwt
from prometheus_client.parser import text_string_to_metric_families

from bench import client
from bench.client import Session
from bench.stack import STATIC_BODY, Endpoints
from verifier.errors import AccessTokenExpired, TokenRejected
from verifier.sessions.store import RefreshToken
from verifier.sessions.tokens import AccessTokenCodec

# A denial must show up as a 4xx: with this header the verifier's unauthorized handler
# answers 401 JSON instead of a 302 to the login page. Every scenario sends it.
API_ACCEPT = {"Accept": "application/json"}
_EXPIRED_SECONDS_AGO = 60
# The metrics verifier's workers flush once a second; a scrape that lags longer is broken.
SCRAPE_DEADLINE_SECONDS = 10.0
# Straight to 127.0.0.1, whatever http_proxy the environment sets.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class BenchError(RuntimeError):
    """The stack does not behave as a scenario requires: measuring it would be meaningless."""


def expect_allowed(endpoints: Endpoints, path: str, headers: dict[str, str]) -> None:
    """With these cookies, `path` answers 200 and the static file."""
    reply = client.get(endpoints, path, {**API_ACCEPT, **headers})
    if reply.status != 200 or reply.body != STATIC_BODY:
        raise BenchError(f"GET {path} with a session answered {reply}")


def expect_denied(endpoints: Endpoints, path: str, headers: dict[str, str] | None = None) -> None:
    """Without cookies (or with these headers: a token that is not one), `path` answers 401:
    its check really runs."""
    reply = client.get(endpoints, path, {**API_ACCEPT, **(headers or {})})
    if reply.status != 401:
        raise BenchError(f"GET {path} without a session answered {reply}")


def expect_assertion(
    endpoints: Endpoints, path: str, headers: dict[str, str], audience: str, group: str
) -> None:
    """The app behind `path` gets a signed assertion for `audience` naming `group`."""
    reply = client.get(endpoints, path, {**API_ACCEPT, **headers})
    if reply.status != 200 or not reply.assertion:
        raise BenchError(f"GET {path} forwarded no assertion: {reply}")
    claims = jwt.decode(reply.assertion, options={"verify_signature": False})
    if claims.get("aud") != audience or group not in claims.get("groups", []):
        raise BenchError(f"GET {path} forwarded an assertion for {claims}")


def expect_refresh(
    endpoints: Endpoints, path: str, codec: AccessTokenCodec, session: Session
) -> None:
    """An expired access token plus the refresh token: 200, the refresh cookie set last.

    wrk's Lua sees only the last header of a name, so refresh.lua relies on that order.
    """
    expired = expired_access_token(codec, session)
    try:
        codec.verify(expired, time.time())
    except AccessTokenExpired:
        pass
    except TokenRejected as rejected:
        raise BenchError(f"the verifier rejects the minted access token: {rejected}") from None
    else:
        raise BenchError("the minted access token has not expired")
    cookies = f"{endpoints.access_cookie}={expired}; {endpoints.refresh_cookie}="
    reply = client.get(endpoints, path, {**API_ACCEPT, "Cookie": cookies + session.refresh_token})
    if reply.status != 200 or not reply.set_cookies:
        raise BenchError(f"a refresh answered {reply}")
    if not reply.set_cookies[-1].startswith(endpoints.refresh_cookie + "="):
        raise BenchError(f"the last Set-Cookie of a refresh is not the refresh cookie: {reply}")


def wait_for_counted_checks(
    scrape_url: str, at_least: float, deadline_seconds: float = SCRAPE_DEADLINE_SECONDS
) -> float:
    """verifier_auth_decisions_total{outcome="allowed"} once it reaches `at_least` (workers
    flush every second), or as it stands at the deadline."""
    give_up = time.monotonic() + deadline_seconds
    while True:
        counted = _allowed_count(scrape_url)
        if counted >= at_least or time.monotonic() > give_up:
            return counted
        time.sleep(0.2)


def counted_checks(scrape_url: str, steady_seconds: float = 1.5) -> float:
    """The allowed checks counted so far, once the count has stopped moving for
    `steady_seconds` (longer than the workers' one-second flush), or at the deadline."""
    give_up = time.monotonic() + SCRAPE_DEADLINE_SECONDS
    last, since = _allowed_count(scrape_url), time.monotonic()
    while time.monotonic() - since < steady_seconds and time.monotonic() < give_up:
        time.sleep(0.3)
        now = _allowed_count(scrape_url)
        if now != last:
            last, since = now, time.monotonic()
    return last


def _allowed_count(scrape_url: str) -> float:
    try:
        with _DIRECT.open(scrape_url, timeout=10) as response:
            text = response.read().decode()
    except OSError as error:
        raise BenchError(f"GET {scrape_url} failed: {error}") from error
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "verifier_auth_decisions_total"
        and sample.labels.get("outcome") == "allowed"
    )


def expired_access_token(codec: AccessTokenCodec, session: Session) -> str:
    """An access token of the session, signed with the run's key, that expired a minute ago.

    What a browser sends when it returns after the access lifetime: the verifier checks its
    signature and expiry before it falls back to the refresh token.
    """
    token = RefreshToken.parse(session.refresh_token)
    issued_at = time.time() - codec.ttl_seconds - _EXPIRED_SECONDS_AGO
    return codec.issue(token.user, token.session_id, issued_at)
