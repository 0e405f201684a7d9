"""The gunicorn worker class: uvicorn's, configured for a service that only nginx talks to."""

from __future__ import annotations

from typing import Any

from uvicorn_worker import UvicornWorker


class VerifierWorker(UvicornWorker):  # type: ignore[misc]  # untyped base class
    """uvloop and httptools, and nothing per request that the verifier does not use.

    - `proxy_headers` off: uvicorn would rewrite each request's client address from
      X-Forwarded-For; the verifier reads that header itself, and only on login.
    - `server_header` off: a "server: uvicorn" line on every answer tells attackers
      what runs behind nginx, and nginx never forwards it anyway.
    """

    CONFIG_KWARGS: dict[str, Any] = {  # noqa: RUF012 (uvicorn_worker's own attribute)
        "loop": "uvloop",
        "http": "httptools",
        "proxy_headers": False,
        "server_header": False,
    }
