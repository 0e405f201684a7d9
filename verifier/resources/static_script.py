"""`/auth/static/webauthn.js`: the passkey script, a file of the package, served as it is."""

from __future__ import annotations

from importlib.resources import files

import falcon
import falcon.asgi

from verifier.pages import SCRIPT_PATH

# An hour: a new release's script reaches browsers within that, and pages load it often.
SCRIPT_MAX_AGE_SECONDS = 3600


class StaticScript:
    """GET answers the script, read once from the package."""

    def __init__(self) -> None:
        self._body = files("verifier").joinpath("static/webauthn.js").read_bytes()

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """The script, cacheable, never sniffed as anything else."""
        resp.content_type = "text/javascript; charset=utf-8"
        resp.cache_control = ["public", f"max-age={SCRIPT_MAX_AGE_SECONDS}"]
        resp.set_header("X-Content-Type-Options", "nosniff")
        resp.data = self._body


__all__ = ["SCRIPT_PATH", "StaticScript"]
