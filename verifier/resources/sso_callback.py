"""Single sign-on, step 3 on an app host: `/auth/sso/callback?code=...` (never behind
auth_request).

The state record (named by this host's state cookie) and the code record are both taken
with GETDEL before anything is checked, so each works once, pass or fail. Then: the code
was made for this host, for the challenge this browser's state value hashes to, and (in
the one script that makes the child session) for a portal session that is still live.

Any refusal is a 400 page and sets no cookie. It restarts the sign-in at most once, by a
`Refresh` to this host's own sign-in path, and only when neither the state nor the code
says the flow is itself a restart: never a loop. A spent code presented again ends the
child session it made (RFC 6749 section 4.1.2) and is audited.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import quote

import falcon
import falcon.asgi

from verifier.gate import Gate
from verifier.pages.sso import handoff_failed_page
from verifier.resources.login import client_address
from verifier.resources.page_answers import send_page
from verifier.sessions.devices import device_summary
from verifier.sessions.store import SESSION_ID_BYTES, SessionStore
from verifier.sso.config import SsoConfig
from verifier.sso.handoff import (
    SPENT_SECONDS,
    HandoffCode,
    HandoffState,
    HandoffStore,
    challenge_of,
    is_secret_shape,
)
from verifier.web.cookies import CookiePolicy, read_sso_state_cookie, read_token_cookies
from verifier.web.hosts import request_host
from verifier.web.redirects import DEFAULT_NEXT, safe_next

log = logging.getLogger(__name__)

# The app host's own sign-in path with this parameter starts a hand-off that may not
# restart again (verifier.resources.sso_hosts).
RESTART_PARAM = "sso_restart"


class Callback:
    """Redeems a hand-off code: a child session for this host, or a 400 page."""

    def __init__(
        self,
        sso: SsoConfig,
        handoffs: HandoffStore,
        sessions: SessionStore,
        gate: Gate,
        cookies: CookiePolicy,
        login_path: str,
    ) -> None:
        self._sso = sso
        self._handoffs = handoffs
        self._sessions = sessions
        self._gate = gate
        self._cookies = cookies
        self._login_path = login_path

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Make this host's session from a code, then go on to the path the state kept."""
        host = self._sso.app_host(request_host(req))
        cookie_header = req.get_header("Cookie")
        state_value = read_sso_state_cookie(cookie_header, self._cookies)
        code = _single_param(req.query_string, "code")
        # Both records go now, whatever follows: single use even when the check fails.
        state = (
            await self._handoffs.take_state(state_value) if is_secret_shape(state_value) else None
        )
        record = await self._handoffs.take_code(code) if is_secret_shape(code) else None
        if host is None:
            # Unreachable behind verifier.resources.sso_hosts; refused all the same.
            self._refuse(resp, "host", "", state, record)
            return
        if record is None:
            if is_secret_shape(code):
                await self._end_spent(code, host)
            self._refuse(resp, "code", host, state, record)
            return
        if state is None or state_value is None:
            self._refuse(resp, "state", host, state, record)
            return
        if record.host != host or state.host != host:
            self._refuse(resp, "host", host, state, record)
            return
        if not secrets.compare_digest(record.challenge, challenge_of(state_value)):
            self._refuse(resp, "challenge", host, state, record)
            return
        await self._hand_off(req, resp, code or "", host, state, record)

    async def _hand_off(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        code: str,
        host: str,
        state: HandoffState,
        record: HandoffCode,
    ) -> None:
        # Named before it exists, and the name written down first: a replay of this code
        # racing this very request finds the mark and stops the child from being made.
        child_id = secrets.token_urlsafe(SESSION_ID_BYTES)
        await self._handoffs.mark_spent(code, record.user, child_id)
        previous = await self._gate.proven_session(
            read_token_cookies(req.get_header("Cookie"), self._cookies), host
        )
        address = client_address(req)
        child = await self._sessions.create_child(
            record.user,
            record.portal_session,
            host,
            replacing=previous.session_id
            if previous is not None and previous.user == record.user
            else "",
            session_id=child_id,
            device=device_summary(req.get_header("User-Agent")),
            address=address,
        )
        if child is None:
            self._refuse(resp, "portal_session_ended", host, state, record)
            return
        for cookie in self._gate.handed_off(child, address, host):
            resp.append_header("Set-Cookie", cookie)
        resp.append_header("Set-Cookie", self._cookies.clear_sso_state())
        resp.cache_control = ["no-store"]
        resp.set_header("Referrer-Policy", "no-referrer")
        resp.status = falcon.HTTP_303
        resp.location = safe_next(state.next_path)

    async def _end_spent(self, code: str, host: str) -> None:
        spent = await self._handoffs.take_spent(code)
        if spent is None:
            return
        ended = await self._sessions.end_handed_off(spent.user, spent.child_session, SPENT_SECONDS)
        log.warning("hand-off code presented again on %s: its session ended", host)
        self._gate.audit.record(
            "sso.code_replayed",
            user=spent.user,
            session=spent.child_session,
            host=host,
            session_ended=int(ended),
        )

    def _refuse(
        self,
        resp: falcon.asgi.Response,
        reason: str,
        host: str,
        state: HandoffState | None,
        record: HandoffCode | None,
    ) -> None:
        # No Set-Cookie of any kind: the state record is gone, so its cookie is dead anyway.
        self._gate.audit.record("sso.handoff_refused", reason=reason, host=host)
        next_path = safe_next(state.next_path) if state is not None else DEFAULT_NEXT
        again = self._login_path + ("?next=" + quote(next_path, safe="/"))
        restarted = (state is not None and state.restarted) or (
            record is not None and record.restarted
        )
        restart_url = None
        if host and not restarted:
            restart_url = f"{again}&{RESTART_PARAM}=1"
            resp.set_header("Refresh", f"0; url={restart_url}")
        send_page(resp, falcon.HTTP_400, handoff_failed_page(restart_url, again))
        resp.set_header("Referrer-Policy", "no-referrer")


def _single_param(query_string: str, name: str) -> str | None:
    """A parameter sent exactly once, as sent (our values need no decoding), else None."""
    values = [
        value
        for key, _, value in (pair.partition("=") for pair in query_string.split("&"))
        if key == name
    ]
    return values[0] if len(values) == 1 else None
