"""Who is signed in, for the account pages: a live session the request's cookies prove."""

from __future__ import annotations

from urllib.parse import quote

import falcon
import falcon.asgi

from verifier.gate import Gate, SessionRef
from verifier.resources.body import wants_json
from verifier.resources.page_answers import send_json
from verifier.sessions.store import SessionStore
from verifier.web.cookies import CookiePolicy, read_token_cookies
from verifier.web.hosts import request_host

NOT_SIGNED_IN = "Sign in to manage your account."


class AccountSession:
    """Reads the caller's session the way logout does, and asks Redis that it is live."""

    def __init__(
        self, gate: Gate, sessions: SessionStore, cookie_policy: CookiePolicy, login_path: str
    ) -> None:
        self._gate = gate
        self._sessions = sessions
        self._cookies = cookie_policy
        self._login_path = login_path

    async def signed_in(self, req: falcon.asgi.Request) -> SessionRef | None:
        """The caller's live session, or None (no cookies, forged, ended)."""
        cookies = read_token_cookies(req.get_header("Cookie"), self._cookies)
        session = await self._gate.proven_session(cookies, request_host(req))
        if session is None or not await self._sessions.is_live(session.user, session.session_id):
            return None
        return session

    async def signed_in_or_login(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response
    ) -> SessionRef | None:
        """The caller's live session; or None, with `resp` sending them to sign in."""
        session = await self.signed_in(req)
        if session is None:
            self.send_to_login(req, resp)
        return session

    async def strengthen(self, session: SessionRef, amr: tuple[str, ...]) -> str | None:
        """Add factors just proven on an account page to the session; the new access cookie."""
        return await self._gate.step_up(session, amr)

    def send_to_login(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """No session: a browser goes to sign in (and back here), an API client gets 401."""
        login_url = self._login_path + "?next=" + quote(req.path, safe="/")
        if wants_json(req):
            send_json(resp, falcon.HTTP_401, {"error": NOT_SIGNED_IN, "login_url": login_url})
            return
        resp.cache_control = ["no-store"]
        resp.status = falcon.HTTP_303
        resp.location = login_url
