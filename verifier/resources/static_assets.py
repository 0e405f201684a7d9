"""`/auth/static/...`: the passkey script and the pages' stylesheet, files of the package."""

from __future__ import annotations

from importlib.resources import files

import falcon
import falcon.asgi

# An hour: a new release's files reach browsers within that, and pages load them often.
ASSET_MAX_AGE_SECONDS = 3600
JAVASCRIPT = "text/javascript; charset=utf-8"
CSS = "text/css; charset=utf-8"


class StaticAsset:
    """GET answers one file of `verifier/static/`, read once from the package."""

    def __init__(self, name: str, content_type: str) -> None:
        self._body = files("verifier").joinpath("static", name).read_bytes()
        self._content_type = content_type

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """The file, cacheable, never sniffed as anything else."""
        resp.content_type = self._content_type
        resp.cache_control = ["public", f"max-age={ASSET_MAX_AGE_SECONDS}"]
        resp.set_header("X-Content-Type-Options", "nosniff")
        resp.data = self._body
