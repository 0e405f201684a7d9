"""`/.well-known/jwks.json`: the public keys apps verify `X-Auth-Assertion` with."""

from __future__ import annotations

from collections.abc import Callable

import falcon.asgi

from verifier.keyring.jwks import JwkSet

JWKS_PATH = "/.well-known/jwks.json"


class Jwks:
    """The JWK set of the current ring, cacheable for `max_age_seconds`.

    Apps may cache it that long: a rotated key is published for longer than twice this
    before it signs (see verifier.keyring.admin), so a cached copy always knows the key
    of any assertion it is shown.
    """

    def __init__(self, keys: JwkSet, clock: Callable[[], float], max_age_seconds: int) -> None:
        self._keys = keys
        self._clock = clock
        self._cache_control = ["public", f"max-age={max_age_seconds}"]

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Serve the key set."""
        resp.media = self._keys.document(self._clock())
        resp.cache_control = self._cache_control

    # Falcon drops the body of a HEAD answer; the headers are those of a GET.
    on_head = on_get
