"""Single sign-on, step 1 on an app host: send a signed-out browser to the portal.

The app host keeps a random state value in a short-lived __Host- cookie of its own and a
record of it in Redis (the host, and the path to come back to, under the same-site `next`
rule); the portal sees only the value's hash, the challenge a code will be bound to. The
URL the browser is sent to is built from configuration: the portal's origin and the listed
spelling of this host.
"""

from __future__ import annotations

import falcon
import falcon.asgi

from verifier.sso.config import SsoConfig
from verifier.sso.handoff import STATE_SECONDS, HandoffStore, challenge_of
from verifier.web.cookies import CookiePolicy

# The portal's authorize parameters beside host and challenge: the step an app host asks
# for, and that this flow is the one automatic restart of a failed hand-off.
STEP_UP_PARAM = "step_up"
RESTARTED_PARAM = "restarted"


class HandoffStart:
    """Starts hand-offs: the state cookie and record, and the redirect to the portal."""

    def __init__(self, sso: SsoConfig, handoffs: HandoffStore, cookies: CookiePolicy) -> None:
        self._sso = sso
        self._handoffs = handoffs
        self._cookies = cookies

    @property
    def sso(self) -> SsoConfig:
        """The portal and its hosts."""
        return self._sso

    async def redirect(
        self,
        resp: falcon.asgi.Response,
        host: str,
        next_path: str,
        step_up: str | None = None,
        *,
        restarted: bool = False,
    ) -> None:
        """Answer with a 302 to the portal for listed `host`; `next_path` must be safe."""
        value = await self._handoffs.begin(host, next_path, restarted=restarted)
        query = []
        if step_up is not None:
            query.append(f"{STEP_UP_PARAM}={step_up}")
        if restarted:
            query.append(f"{RESTARTED_PARAM}=1")
        resp.append_header("Set-Cookie", self._cookies.set_sso_state(value, STATE_SECONDS))
        resp.cache_control = ["no-store"]
        resp.status = falcon.HTTP_302
        resp.location = self._sso.authorize_url(host, challenge_of(value), "&".join(query))
