"""`/healthz` (liveness) and `/readyz` (readiness), for orchestrators' probes.

Neither is proxied by nginx (nginx/verifier-locations.conf): probes reach the verifier's
own port. Each gunicorn worker answers for itself.
"""

from __future__ import annotations

from typing import Protocol

import falcon
import falcon.asgi


class ReadinessProblems(Protocol):
    """What keeps this worker from serving (verifier.service.readiness.ReadinessCheck)."""

    async def problems(self) -> list[str]:
        """Every reason this worker cannot serve now; empty when ready."""


class Health:
    """200 while the process answers; asks nothing else (a liveness probe)."""

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Answer ok."""
        # No dependency on purpose: restarting the verifier cannot bring Redis back, so a
        # Redis outage must not fail the probe that decides restarts.
        resp.cache_control = ["no-store"]
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = "ok\n"


class Readiness:
    """200 when this worker can serve, else 503 naming every reason (a readiness probe)."""

    def __init__(self, check: ReadinessProblems) -> None:
        self._check = check

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Report readiness as JSON: {"ready": bool, "problems": [...]}."""
        problems = await self._check.problems()
        resp.status = falcon.HTTP_200 if not problems else falcon.HTTP_503
        resp.cache_control = ["no-store"]
        resp.media = {"ready": not problems, "problems": problems}
