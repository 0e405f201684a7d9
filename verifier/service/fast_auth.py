"""`/auth` answered in the worker's HTTP protocol when the caches decide it.

Every protected request costs one check, and most are decided by two caches: the verified
access token and the liveness cache (a session Redis said live, while the revocation channel
is heard). For those, uvicorn's ASGI machinery (the scope, a Task, `send()` messages) costs
more than the decision itself. This protocol answers them when the request is complete, on
the same event loop, with the same AuthCheck code the ASGI route runs (its logs, metrics and
headers), and writes the bytes uvicorn would have written. Everything else (another path,
a body, HTTP/1.0, a connection to close, a draining worker, a request behind an unfinished
one, a token or session the caches do not know) goes to the ASGI route untouched, so
revocation, expiry, refresh and fail-closed answers keep their one route.
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HEADER_VALUE_RE, STATUS_LINE

from verifier.auth_check import AUTH_PATH, Answer, AuthCheck, AuthRouter

log = logging.getLogger(__name__)

AUTH_TARGET = AUTH_PATH.encode()

# What separates header values when all are checked at once: a tab is the one control
# byte a value may hold, so one search over the joined values finds what a search of each
# would.
_VALUE_JOINER = b"\t"
_NO_BODY_STATUSES = frozenset({204, 304})


class AnsweredHere:
    """Stands in for uvicorn's request cycle after an answer this protocol wrote itself: a
    complete response, so uvicorn's callbacks treat the connection as idle."""

    __slots__ = ()
    response_complete = True
    keep_alive = True
    disconnected = False

    class message_event:  # noqa: N801 (the attribute uvicorn calls .set() on)
        """Nothing waits on an answered request."""

        @staticmethod
        def set() -> None:
            """Nothing to wake."""


ANSWERED_HERE = AnsweredHere()


def auth_check_of(app: Any) -> AuthCheck | None:
    """The AuthCheck behind the app uvicorn serves, if it is the verifier's router and its
    fast path is on."""
    return app.fast_check if isinstance(app, AuthRouter) else None


def response_bytes(
    answer: Answer, default_headers: list[tuple[bytes, bytes]], head: bool
) -> bytes | None:
    """What uvicorn writes for this answer with an empty body, byte for byte; None if a
    header value holds a byte uvicorn refuses (the ASGI route then answers it, as today)."""
    headers = answer.headers
    if HEADER_VALUE_RE.search(_VALUE_JOINER.join([value for _, value in headers])):
        return None
    content = [STATUS_LINE[answer.status]]
    for name, value in default_headers:
        content += (name, b": ", value, b"\r\n")
    for name, value in headers:
        content += (name, b": ", value, b"\r\n")
    if head or answer.status in _NO_BODY_STATUSES:
        content.append(b"\r\n")
    else:
        # No Content-Length: uvicorn frames the (empty) body as chunked, then ends it.
        content.append(b"transfer-encoding: chunked\r\n\r\n0\r\n\r\n")
    return b"".join(content)


class FastAuth:
    """Per connection: whether /auth requests may be answered here, and the answering."""

    __slots__ = ("_check", "_context")

    def __init__(self, check: AuthCheck) -> None:
        self._check = check
        # The answer's context variables (the request id of its logs) stay in this
        # connection's own context, never in the loop's, which the Tasks of the ASGI
        # route would copy.
        self._context = contextvars.copy_context()

    def answer(
        self,
        headers: list[tuple[bytes, bytes]],
        default_headers: list[tuple[bytes, bytes]],
        head: bool,
    ) -> bytes | None:
        """The response's bytes, or None when the ASGI route must answer."""
        answer = self._context.run(self._check.answer_from_caches, headers)
        if answer is None:
            return None
        return response_bytes(answer, default_headers, head)
