"""Redirects with an empty body carry no Content-Type.

Falcon labels every answer with the app's default media type (JSON), a body or not, so the
login's 303 and the 302 to the sign-in page (which nginx hands on) said
`Content-Type: application/json` over nothing. This thin ASGI wrapper, in front of the Falcon
app, drops the header from a 3xx answer whose body is empty, and touches nothing else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_EMPTY = (b"content-length", b"0")
_TYPE = b"content-type"


def is_empty_redirect(message: Mapping[str, Any]) -> bool:
    """True for the start of a 3xx answer that declares an empty body."""
    return (
        message["type"] == "http.response.start"
        and 300 <= message["status"] < 400
        and _EMPTY in message.get("headers", ())
    )


class UntypedEmptyRedirects:
    """An ASGI app: `app`, except that empty redirects lose their Content-Type."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass one ASGI event on, filtering the start of an empty redirect."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_untyped(message: dict[str, Any]) -> None:
            if is_empty_redirect(message):
                kept = [(name, value) for name, value in message["headers"] if name != _TYPE]
                message = {**message, "headers": kept}
            await send(message)

        await self._app(scope, receive, send_untyped)
