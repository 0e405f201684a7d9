"""`/auth`: the endpoint nginx's auth_request asks about every protected request."""

from __future__ import annotations

import logging

import falcon
import falcon.asgi

from verifier.cookies import CookiePolicy, read_token_cookies, without_token_cookies
from verifier.errors import RefreshRejected, TokenRejected
from verifier.gate import Gate

log = logging.getLogger(__name__)

# Read by nginx with auth_request_set; the nginx snippet forwards the first two to the app
# (overwriting anything the client sent) and the last two to the browser as Set-Cookie.
USER_HEADER = "X-Verifier-User"
SESSION_HEADER = "X-Verifier-Session"
SET_ACCESS_COOKIE_HEADER = "X-Verifier-Set-Access-Cookie"
SET_REFRESH_COOKIE_HEADER = "X-Verifier-Set-Refresh-Cookie"
# "no-store" only on answers that rotate cookies; nginx adds it to the app's response so no
# shared cache keeps a fresh refresh token, and leaves the app's caching alone otherwise.
CACHE_CONTROL_HEADER = "X-Verifier-Cache-Control"
# The client's Cookie header without the token cookies: nginx sends this to the app instead,
# so the app (its logs, its bugs) never holds a token it could leak.
UPSTREAM_COOKIE_HEADER = "X-Verifier-Upstream-Cookie"


class AuthCheck:
    """Answers 204 (allowed, identity in headers), 401 (not signed in) or 503 (Redis down).

    auth_request accepts only 2xx, 401 and 403; everything else becomes a 500 in nginx,
    which is what a Redis outage should be: an error, not "please sign in again".
    """

    def __init__(self, gate: Gate, cookie_policy: CookiePolicy) -> None:
        self._gate = gate
        self._cookie_policy = cookie_policy

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Decide one request from its cookies."""
        resp.cache_control = ["no-store"]
        cookies = read_token_cookies(req.get_header("Cookie"), self._cookie_policy)
        try:
            admitted = await self._gate.admit(cookies)
        except (TokenRejected, RefreshRejected) as rejection:
            log.debug("denied %s: %s", req.get_header("X-Original-URI") or "-", rejection)
            resp.status = falcon.HTTP_401
            return
        resp.status = falcon.HTTP_204
        resp.set_header(USER_HEADER, admitted.user)
        resp.set_header(SESSION_HEADER, admitted.session_id)
        other_cookies = without_token_cookies(req.get_header("Cookie"), self._cookie_policy)
        if other_cookies:
            resp.set_header(UPSTREAM_COOKIE_HEADER, other_cookies)
        if admitted.set_access_cookie is not None:
            resp.set_header(SET_ACCESS_COOKIE_HEADER, admitted.set_access_cookie)
            resp.set_header(CACHE_CONTROL_HEADER, "no-store")
        if admitted.set_refresh_cookie is not None:
            resp.set_header(SET_REFRESH_COOKIE_HEADER, admitted.set_refresh_cookie)

    # auth_request subrequests may carry the original method; the answer never depends on it.
    on_head = on_post = on_put = on_patch = on_delete = on_options = on_get
