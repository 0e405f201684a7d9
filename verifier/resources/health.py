"""`/healthz`: liveness and readiness for container health checks."""

from __future__ import annotations

import falcon
import falcon.asgi
import redis.asyncio as aioredis

from verifier.redis_store import guard


class Health:
    """200 when Redis answers PING; StoreUnavailable (503) otherwise."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Ping Redis."""
        await guard(self._redis.ping())
        resp.cache_control = ["no-store"]
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = "ok\n"
