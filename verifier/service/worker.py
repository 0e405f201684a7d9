"""The gunicorn worker class: uvicorn's, configured for a service that only nginx talks to."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn_worker import UvicornWorker

from verifier.service.fast_auth import ANSWERED_HERE, AUTH_TARGET, FastAuth, auth_check_of

logger = logging.getLogger(__name__)

# How long a stopping worker keeps its idle connections open, answering any request that
# arrives on one with `Connection: close`. Long enough for a request nginx has already sent
# (or is sending on a connection it just opened) to arrive; far below gunicorn's
# --graceful-timeout (10 s, verifier.cli), which also bounds the requests in flight.
DRAIN_SECONDS = 1.0


class DrainingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a graceful stop that no request races.

    uvicorn closes an idle connection the instant a stop begins. nginx may at that very
    moment be sending a check on it (an upstream keepalive connection it picked, or one it
    just opened whose request the worker has not read yet): closing a socket with unread
    data resets it, and nginx fails that check unless it has another server to retry on.
    Instead, an idle connection stays open for DRAIN_SECONDS; a request arriving meanwhile is
    answered with `Connection: close`, and one still idle after that is closed. nginx drops an
    idle connection the server closed, and retries a check that races that last close on a
    fresh connection (it does so for a reused keepalive connection that fails).
    """

    _draining = False
    # Set per connection when /auth may be answered here (service/fast_auth.py).
    _fast: FastAuth | None = None
    # The headers of an /auth request this protocol holds until the request is complete.
    _held = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """A new connection: answer its /auth requests here when the app is the verifier's
        and uvicorn would log no access line (the fast path writes none)."""
        super().connection_made(transport)
        check = auth_check_of(self.app)
        if check is not None and not (self.access_log and self.access_logger.handlers):
            self._fast = FastAuth(check)

    def on_message_begin(self) -> None:
        """A new request: no keep-alive timer may run while it is served (an answer written
        here arms one, and a request behind it in the same read would keep it)."""
        self._unset_keepalive_if_required()
        super().on_message_begin()

    def shutdown(self) -> None:
        """Begin a graceful stop: finish what is in flight, drain idle connections."""
        if self.cycle is None or self.cycle.response_complete:
            self._draining = True
            self.loop.call_later(DRAIN_SECONDS, self._close_if_idle)
        else:
            self.cycle.keep_alive = False

    def on_headers_complete(self) -> None:
        """Start the request; once stopping, its answer closes the connection.

        A request for exactly /auth is held instead, when it may be answered here: nothing
        runs until the whole request is read (on_message_complete), or a body arrives.
        """
        if (
            self._fast is not None
            and self.url == AUTH_TARGET
            and not self._draining
            and (self.cycle is None or self.cycle.response_complete)
            and self.parser.should_keep_alive()
            and self.parser.get_http_version() == "1.1"
            and not self.parser.should_upgrade()
        ):
            self._held = True
            return
        self._start_request()

    def _start_request(self) -> None:
        super().on_headers_complete()
        if self._draining and self.cycle is not None:
            self.cycle.keep_alive = False

    def on_body(self, body: bytes) -> None:
        """Request body: an /auth request with one goes the ASGI route."""
        if self._held:
            self._held = False
            self._start_request()
        super().on_body(body)

    def on_message_complete(self) -> None:
        """The request is read: answer a held /auth request here if the caches decide it,
        else start it on the ASGI route."""
        if self._held:
            self._held = False
            if self._answer_here():
                return
            self._start_request()
        super().on_message_complete()

    def _answer_here(self) -> bool:
        if self._fast is None:  # never held without a fast path
            return False
        head = self.parser.get_method() == b"HEAD"
        try:
            written = self._fast.answer(self.headers, self.server_state.default_headers, head)
        except Exception:  # a fault here must not become httptools' 400: the ASGI route answers
            logger.exception("the /auth fast path failed; the ASGI route answers instead")
            return False
        if written is None:
            return False
        self.transport.write(written)
        # uvicorn's callbacks only read the cycle's response_complete, keep_alive and
        # message_event: the stand-in has them.
        self.cycle = ANSWERED_HERE  # type: ignore[assignment]
        self.on_response_complete()
        return True

    def _close_if_idle(self) -> None:
        idle = self.cycle is None or self.cycle.response_complete
        if idle and not self.transport.is_closing():
            self.transport.close()


class VerifierWorker(UvicornWorker):  # type: ignore[misc]  # untyped base class
    """uvloop and httptools, and nothing per request that the verifier does not use.

    - `http`: httptools, with the draining graceful stop above (SIGHUP and SIGTERM).
    - `proxy_headers` off: uvicorn would rewrite each request's client address from
      X-Forwarded-For; the verifier reads that header itself, and only on login.
    - `server_header` off: a "server: uvicorn" line on every answer tells attackers
      what runs behind nginx, and nginx never forwards it anyway.
    """

    CONFIG_KWARGS: dict[str, Any] = {  # noqa: RUF012 (uvicorn_worker's own attribute)
        "loop": "uvloop",
        "http": DrainingHttpToolsProtocol,
        "proxy_headers": False,
        "server_header": False,
    }
