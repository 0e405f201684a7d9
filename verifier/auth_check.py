"""`/auth`: the endpoint nginx's auth_request asks about every protected request.

It is served as a bare ASGI callable in front of the Falcon app (see `AuthRouter`): every
protected request of every user passes here, and it needs nothing a framework adds — no
body, no routing, no content negotiation, no error pages (nginx reads only the status and
headers). Measured with `make bench`, the framework's share of this path was about a
seventh of a worker's CPU.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from time import perf_counter
from typing import Any

from verifier.access import AccessRequest
from verifier.access.paths import normalized_path
from verifier.apitokens import is_ours
from verifier.errors import (
    BearerRefused,
    BearerThrottled,
    RefreshRejected,
    StoreUnavailable,
    TokenRejected,
)
from verifier.gate import Admitted, Forbidden, Gate, StepUpRequired
from verifier.observe.audit import set_request_id
from verifier.observe.metrics import (
    AUTH_ALLOWED,
    AUTH_FORBIDDEN,
    AUTH_GRACE,
    AUTH_REFRESHED,
    AUTH_STORE_ERROR,
    AUTH_TOKEN,
)
from verifier.web.cookies import CookiePolicy, CookieReader

log = logging.getLogger(__name__)

# The ASGI types as Falcon spells them, so that a Falcon app is an ASGIApp.
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

AUTH_PATH = "/auth"

# Read by nginx with auth_request_set; the nginx snippet forwards the first two to the app
# (overwriting anything the client sent) and the last two to the browser as Set-Cookie.
USER_HEADER = "X-Verifier-User"
SESSION_HEADER = "X-Verifier-Session"
GROUPS_HEADER = "X-Verifier-Groups"
ASSERTION_HEADER = "X-Verifier-Assertion"
SET_ACCESS_COOKIE_HEADER = "X-Verifier-Set-Access-Cookie"
SET_REFRESH_COOKIE_HEADER = "X-Verifier-Set-Refresh-Cookie"
# "no-store" only on answers that rotate cookies; nginx adds it to the app's response so no
# shared cache keeps a fresh refresh token, and leaves the app's caching alone otherwise.
CACHE_CONTROL_HEADER = "X-Verifier-Cache-Control"
# The client's Cookie header without the token cookies: nginx sends this to the app instead,
# so the app (its logs, its bugs) never holds a token it could leak.
UPSTREAM_COOKIE_HEADER = "X-Verifier-Upstream-Cookie"
# On a 401 only: the step the signed-in user lacks (`mfa` or `max_age`). nginx hands it to
# /auth/unauthorized, which sends the browser to the sign-in page for that step.
STEP_UP_HEADER = "X-Verifier-Step-Up"
# A request admitted by an API token: which one (its id, never the secret). nginx hands it
# to the app as X-Auth-Token-Id; such a request has no session (no X-Verifier-Session).
TOKEN_ID_HEADER = "X-Verifier-Token-Id"  # noqa: S105 (a header name)
# On a 401 for an API token refused unchecked (too many failures from the client's address):
# the seconds to wait. nginx hands it to /auth/unauthorized, which answers 429 with it.
RETRY_AFTER_HEADER = "X-Verifier-Retry-After"

RETRY_AFTER_SECONDS = 5
_NO_STORE = (b"cache-control", b"no-store")
# ASGI wants header names as lower-case bytes; encoded once, not per request.
_USER, _SESSION, _GROUPS, _ASSERTION, _SET_ACCESS, _SET_REFRESH, _CACHE_CONTROL = (
    name.lower().encode()
    for name in (
        USER_HEADER,
        SESSION_HEADER,
        GROUPS_HEADER,
        ASSERTION_HEADER,
        SET_ACCESS_COOKIE_HEADER,
        SET_REFRESH_COOKIE_HEADER,
        CACHE_CONTROL_HEADER,
    )
)
_UPSTREAM_COOKIE = UPSTREAM_COOKIE_HEADER.lower().encode()
_STEP_UP = STEP_UP_HEADER.lower().encode()
_TOKEN_ID = TOKEN_ID_HEADER.lower().encode()
_RETRY_AFTER = RETRY_AFTER_HEADER.lower().encode()
_MAX_ADDRESS_LENGTH = 64


class AuthCheck:
    """Answers 204 (allowed, identity in headers), 401 (not signed in, or a step-up needed),
    403 (signed in, may not enter) or 503 (Redis down).

    auth_request accepts only 2xx, 401 and 403; everything else becomes a 500 in nginx,
    which is what a Redis outage should be: an error, not "please sign in again". The answer
    never depends on the method, and never clears a cookie.
    """

    def __init__(self, gate: Gate, cookie_policy: CookiePolicy) -> None:
        self._gate = gate
        self._cookies = CookieReader(cookie_policy)
        self._metrics = gate.metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Decide one request from its cookies, or its API token (an ASGI http request for
        /auth)."""
        started = perf_counter()
        cookie_header, original_uri, request, found = _read_request(scope["headers"])
        authorization = found.get(b"authorization")
        if authorization is not None and is_ours(authorization):
            # A token decides alone: whatever cookies came with it are not read or set.
            address = _client_address(found, scope)
            answer = await self._bearer(authorization, address, cookie_header, request, started)
            _log_answer(answer.status, request, original_uri)
            await _send(send, answer)
            return
        cookies = self._cookies.read(cookie_header)
        try:
            admitted = await self._gate.admit(cookies.tokens, request)
        except (TokenRejected, RefreshRejected) as rejection:
            log.debug("denied %s: %s", original_uri or "-", rejection)
            self._metrics.auth_denied(rejection, perf_counter() - started)
            answer = Answer(401, [_NO_STORE])
        except StepUpRequired as step_up:
            answer = self._step_up(step_up, request, original_uri)
        except Forbidden as forbidden:
            answer = self._forbidden(forbidden, request, original_uri, started)
        except StoreUnavailable as error:
            # Fail closed, and keep the user's cookies: nginx turns this into its error page.
            log.error("redis unavailable (%s) on /auth", error)
            self._metrics.auth_answered(AUTH_STORE_ERROR, perf_counter() - started)
            answer = Answer(503, [_NO_STORE, (b"retry-after", b"%d" % RETRY_AFTER_SECONDS)])
        else:
            answer = self._allowed(admitted, cookies.for_app, started)
        _log_answer(answer.status, request, original_uri)
        await _send(send, answer)

    def answer_from_caches(self, headers: Iterable[tuple[bytes, bytes]]) -> Answer | None:
        """The answer to a request for /auth (its raw headers) when the caches alone decide
        it (see Gate.admit_from_caches), with the same logs and counts as the ASGI route;
        None when they cannot, and nothing was counted: the ASGI route must answer."""
        started = perf_counter()
        cookie_header, original_uri, request, found = _read_request(headers)
        authorization = found.get(b"authorization")
        if authorization is not None and is_ours(authorization):
            # An API token this worker vouched for, allowed here; anything else (a refusal
            # too: its throttle and its same work per refusal) is the ASGI route's.
            token_admitted = self._gate.admit_bearer_from_caches(
                authorization.decode("latin-1"), request
            )
            if token_admitted is None:
                return None
            answer = self._token_allowed(token_admitted, cookie_header, started)
            _log_answer(answer.status, request, original_uri, FAST_ROUTE)
            return answer
        cookies = self._cookies.read(cookie_header)
        try:
            admitted = self._gate.admit_from_caches(cookies.tokens, request)
        except StepUpRequired as step_up:
            answer = self._step_up(step_up, request, original_uri)
        except Forbidden as forbidden:
            answer = self._forbidden(forbidden, request, original_uri, started)
        else:
            if admitted is None:
                return None
            answer = self._allowed(admitted, cookies.for_app, started)
        _log_answer(answer.status, request, original_uri, FAST_ROUTE)
        return answer

    def _step_up(
        self, step_up: StepUpRequired, request: AccessRequest, original_uri: str
    ) -> Answer:
        log.info(
            "step-up %s needed for %s %s by %s: %s",
            step_up.step,
            request.method,
            original_uri or "-",
            step_up.admitted.user,
            step_up.reason,
        )
        # A 401, as auth_request allows, naming the step; and any rotated cookies, which
        # must reach the browser (the spent refresh token would sign the user out).
        headers = _cookie_headers(step_up.admitted)
        headers.append((_STEP_UP, step_up.step.encode()))
        return Answer(401, headers)

    def _forbidden(
        self, forbidden: Forbidden, request: AccessRequest, original_uri: str, started: float
    ) -> Answer:
        log.info(
            "forbidden %s %s for %s: %s",
            request.method,
            original_uri or "-",
            forbidden.admitted.user,
            forbidden.reason,
        )
        # Who is signed in (for the "no access" page) and any rotated cookies; nothing
        # for the app, which never sees this request.
        self._metrics.auth_answered(AUTH_FORBIDDEN, perf_counter() - started)
        return Answer(403, _cookie_headers(forbidden.admitted))

    def _allowed(self, admitted: Admitted, other_cookies: str, started: float) -> Answer:
        self._metrics.auth_answered(_allowed_outcome(admitted), perf_counter() - started)
        return Answer(204, _identity_headers(admitted, other_cookies))

    async def _bearer(
        self,
        authorization: bytes,
        address: str,
        cookie_header: str | None,
        request: AccessRequest,
        started: float,
    ) -> Answer:
        """The answer for a request carrying `Authorization: Bearer vrf_...`; never a cookie."""
        try:
            admitted = await self._gate.admit_bearer(
                authorization.decode("latin-1"), request, address
            )
        except BearerRefused as refused:
            # The same 401 for every reason (the record and the metrics say which); only a
            # throttled one names its wait, for the 429 nginx's error page answers with.
            log.info("token refused %s %s: %s", request.method, request.path, refused.reason)
            self._metrics.auth_denied(refused, perf_counter() - started)
            headers = [_NO_STORE]
            if isinstance(refused, BearerThrottled):
                headers.append((_RETRY_AFTER, b"%d" % refused.retry_after_seconds))
            return Answer(401, headers)
        except Forbidden as forbidden:
            log.info(
                "forbidden %s %s for token %s of %s: %s",
                request.method,
                request.path,
                forbidden.admitted.token_id,
                forbidden.admitted.user,
                forbidden.reason,
            )
            self._metrics.auth_answered(AUTH_FORBIDDEN, perf_counter() - started)
            return Answer(403, _cookie_headers(forbidden.admitted))
        except StoreUnavailable as error:
            log.error("redis unavailable (%s) on /auth", error)
            self._metrics.auth_answered(AUTH_STORE_ERROR, perf_counter() - started)
            return Answer(503, [_NO_STORE, (b"retry-after", b"%d" % RETRY_AFTER_SECONDS)])
        return self._token_allowed(admitted, cookie_header, started)

    def _token_allowed(
        self, admitted: Admitted, cookie_header: str | None, started: float
    ) -> Answer:
        other_cookies = self._cookies.read(cookie_header).for_app
        self._metrics.auth_answered(AUTH_TOKEN, perf_counter() - started)
        return Answer(204, _identity_headers(admitted, other_cookies))


class Answer:
    """What /auth answers: a status and its headers (ASGI's lower-case bytes); never a body."""

    __slots__ = ("headers", "status")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.status = status
        self.headers = headers


class AuthRouter:
    """An ASGI app: `/auth` goes to the AuthCheck, everything else (and lifespan) to `app`."""

    def __init__(self, check: AuthCheck, app: ASGIApp, *, fast_path: bool = True) -> None:
        self._check = check
        self._app = app
        self._fast_path = fast_path

    @property
    def fast_check(self) -> AuthCheck | None:
        """The AuthCheck the worker's protocol may answer /auth with from the caches, or
        None when every check must take this ASGI route (VERIFIER_AUTH_FAST_PATH=false)."""
        return self._check if self._fast_path else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route one ASGI event."""
        if scope["type"] == "http" and scope["path"] == AUTH_PATH:
            await self._check(scope, receive, send)
        else:
            await self._app(scope, receive, send)


def _allowed_outcome(admitted: Admitted) -> str:
    # The cookies handed back tell how the gate admitted: none (a valid access token), both
    # (a rotation), or a new access token alone (the previous refresh token, in grace).
    if admitted.set_access_cookie is None:
        return AUTH_ALLOWED
    return AUTH_REFRESHED if admitted.set_refresh_cookie is not None else AUTH_GRACE


def _read_request(
    headers: Iterable[tuple[bytes, bytes]],
) -> tuple[str | None, str, AccessRequest, dict[bytes, bytes]]:
    # ASGI header names are lower-case bytes; values are decoded as latin-1 so that any byte
    # a client sent round-trips into X-Verifier-Upstream-Cookie unchanged. Several Cookie
    # lines are joined as nginx's $http_cookie would, so a token repeated across lines is
    # seen as repeated (and ignored) instead of "the last line wins". Every other header
    # here is set by nginx's `location = /auth` (clients' own headers never reach it).
    cookie_lines: list[str] = []
    found: dict[bytes, bytes] = {}
    for name, value in headers:
        if name == b"cookie":
            cookie_lines.append(value.decode("latin-1"))
        else:
            found[name] = value
    original_uri = found.get(b"x-original-uri", b"").decode("latin-1")
    path = found.get(b"x-original-path")
    declaration = found.get(b"x-verifier-require")
    audience = found.get(b"x-verifier-audience")
    host = found.get(b"host")
    method = found.get(b"x-original-method")
    set_request_id(found.get(b"x-request-id"))
    request = AccessRequest(
        host=_without_port(host.decode("latin-1").lower()) if host else "",
        path=_utf8(path) if path else normalized_path(original_uri),
        method=method.decode("latin-1").upper() if method else "GET",
        declaration=_utf8(declaration) if declaration else "",
        audience=_utf8(audience) if audience else "",
    )
    return ("; ".join(cookie_lines) if cookie_lines else None), original_uri, request, found


def _client_address(found: dict[bytes, bytes], scope: Scope) -> str:
    # nginx's X-Forwarded-For, set from $remote_addr in `location = /auth` (replacing any a
    # client sent), as the login reads it; else the peer (which is nginx itself).
    forwarded = found.get(b"x-forwarded-for", b"").decode("latin-1").split(",")[0].strip()
    if forwarded:
        return forwarded[:_MAX_ADDRESS_LENGTH]
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _without_port(host: str) -> str:
    if host.startswith("["):  # an IPv6 literal: "[::1]:8080"
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0]


def _utf8(value: bytes) -> str:
    # nginx's $uri is decoded bytes: a path is UTF-8 text, anything else cannot match a rule.
    return value.decode("utf-8", errors="replace")


def _identity_headers(admitted: Admitted, other_cookies: str) -> list[tuple[bytes, bytes]]:
    headers = _cookie_headers(admitted)
    if admitted.token_id is None:
        headers.append((_SESSION, admitted.session_id.encode()))
    else:
        headers.append((_TOKEN_ID, admitted.token_id.encode()))
    if admitted.groups:
        headers.append((_GROUPS, ",".join(admitted.groups).encode()))
    if admitted.assertion is not None:
        headers.append((_ASSERTION, admitted.assertion.encode()))
    if other_cookies:
        headers.append((_UPSTREAM_COOKIE, other_cookies.encode("latin-1")))
    return headers


def _cookie_headers(admitted: Admitted) -> list[tuple[bytes, bytes]]:
    headers = [_NO_STORE, (_USER, admitted.user.encode())]
    if admitted.set_access_cookie is not None:
        headers.append((_SET_ACCESS, admitted.set_access_cookie.encode()))
        headers.append((_CACHE_CONTROL, b"no-store"))
    if admitted.set_refresh_cookie is not None:
        headers.append((_SET_REFRESH, admitted.set_refresh_cookie.encode()))
    return headers


# How the DEBUG line of an answer ends: which route gave it.
ASGI_ROUTE = ""
FAST_ROUTE = " from its caches"


def _log_answer(
    status: int, request: AccessRequest, original_uri: str, route: str = ASGI_ROUTE
) -> None:
    if log.isEnabledFor(logging.DEBUG):
        # One line per answer at DEBUG only (a dict lookup otherwise), naming the worker that
        # decided: with several workers behind nginx's keepalive connections, it is how an
        # operator (and the e2e tests' bursts) can tell which worker answered a request, and
        # whether its protocol did, from the caches (service/fast_auth.py).
        log.debug(
            "worker %d answered %d for %s %s%s",
            os.getpid(),
            status,
            request.method,
            original_uri or "-",
            route,
        )


async def _send(send: Send, answer: Answer) -> None:
    await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
    await send({"type": "http.response.body", "body": b""})
