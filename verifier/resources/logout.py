"""`/auth/logout`: end this session (or every session of the user), effective at once."""

from __future__ import annotations

from urllib.parse import quote

import falcon
import falcon.asgi

from verifier.gate import Gate
from verifier.observe.audit import record_revocation
from verifier.observe.causes import RevocationCause
from verifier.resources.body import wants_json
from verifier.sessions.store import SessionStore
from verifier.web.cookies import CookiePolicy, read_token_cookies
from verifier.web.csrf import check_request_origin
from verifier.web.hosts import request_host
from verifier.web.redirects import DEFAULT_NEXT, safe_next


class Logout:
    """POST only: a GET (a link, a prefetch, an <img>) must never sign anyone out."""

    def __init__(
        self,
        gate: Gate,
        sessions: SessionStore,
        cookie_policy: CookiePolicy,
        login_path: str,
    ) -> None:
        self._gate = gate
        self._sessions = sessions
        self._cookie_policy = cookie_policy
        self._login_path = login_path

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Revoke the caller's session in Redis, or all of them with `?all=1`."""
        check_request_origin(req)
        everywhere = req.get_param_as_bool("all", default=False)
        cookies = read_token_cookies(req.get_header("Cookie"), self._cookie_policy)
        session = await self._gate.proven_session(cookies, request_host(req))
        ended = 0
        if session is not None:
            if everywhere:
                ended_ids = await self._sessions.revoke_all(session.user)
                event, cause = "logout.everywhere", RevocationCause.LOGOUT_EVERYWHERE
            else:
                live = await self._sessions.revoke(session.user, session.session_id)
                ended_ids = [session.session_id] if live else []
                event, cause = "logout", RevocationCause.LOGOUT
            ended = len(ended_ids)
            self._gate.metrics.revoked(cause, ended)
            self._gate.audit.record(
                event, user=session.user, session=session.session_id, sessions_ended=ended
            )
            record_revocation(self._gate.audit, cause, session.user, ended_ids)
        # Cookies are cleared only after Redis confirmed: if it is down, the error handler
        # answers 503 and the user stays signed in rather than half signed out.
        for cookie in self._gate.logout_cookies():
            resp.append_header("Set-Cookie", cookie)
        resp.cache_control = ["no-store"]
        if wants_json(req):
            resp.media = {"signed_out": True, "sessions_ended": ended}
            return
        # `next` (from the "no access" page: sign in as someone else) survives the sign-out,
        # under the same safe-next rule as login.
        next_path = safe_next(req.get_param("next"))
        resp.status = falcon.HTTP_303
        resp.location = self._login_path + "?signed_out=1"
        if next_path != DEFAULT_NEXT:
            resp.location += "&next=" + quote(next_path, safe="/")
