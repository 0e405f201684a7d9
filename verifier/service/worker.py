"""The gunicorn worker class: uvicorn's, configured for a service that only nginx talks to."""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn_worker import UvicornWorker

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

    def shutdown(self) -> None:
        """Begin a graceful stop: finish what is in flight, drain idle connections."""
        if self.cycle is None or self.cycle.response_complete:
            self._draining = True
            self.loop.call_later(DRAIN_SECONDS, self._close_if_idle)
        else:
            self.cycle.keep_alive = False

    def on_headers_complete(self) -> None:
        """Start the request; once stopping, its answer closes the connection."""
        super().on_headers_complete()
        if self._draining and self.cycle is not None:
            self.cycle.keep_alive = False

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
