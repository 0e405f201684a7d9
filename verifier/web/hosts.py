"""The host a request was made to, as nginx names it."""

from __future__ import annotations

import falcon.asgi


def request_host(req: falcon.asgi.Request) -> str:
    """The Host header, lower case and without a port: nginx's `$host` as the snippets send it.

    Never X-Forwarded-Host (the client's Host line as sent, port included) and never a
    client's own forwarding header: which host a session belongs to is nginx's word.
    """
    return host_without_port((req.get_header("Host") or "").strip().lower())


def host_without_port(host: str) -> str:
    """`host` without a trailing `:port` (an IPv6 literal keeps its brackets)."""
    if host.startswith("["):  # an IPv6 literal: "[::1]:8080"
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0]
