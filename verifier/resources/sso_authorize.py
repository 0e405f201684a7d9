"""Single sign-on, step 2 on the portal: `/auth/sso/authorize?host=...&challenge=...`.

One of the two GETs other sites may start (the other is the app host's callback): it mints
a code only for a live portal session, sends it only to a listed host, in a URL built from
configuration, and the code is useless without the browser that holds the state cookie
whose hash is `challenge`.

- `host` must equal a listed name byte for byte, as sent: the raw query is read, so no
  percent-encoding, upper case, trailing dot, port, userinfo or look-alike is ever decoded
  or folded into a listed name. Anything else is a 400 page and no redirect at all.
- Without a live portal session the browser signs in first (every sign-in happens here)
  and comes back to this same URL; with `step_up` the step is taken here first.
- The answer carries `Referrer-Policy: no-referrer` and `Cache-Control: no-store`: the
  code in the Location travels nowhere else.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from urllib.parse import quote

import falcon
import falcon.asgi

from verifier.access.conditions import MAX_AGE, MFA, STEPS
from verifier.factors.methods import is_multi_factor
from verifier.gate import Gate
from verifier.i18n import N_
from verifier.observe.audit import shown_name
from verifier.pages.account import ACCOUNT_PATH
from verifier.pages.common import WayBack
from verifier.pages.sso import YOUR_ACCOUNT, refused_page
from verifier.resources.account_session import AccountSession
from verifier.resources.page_answers import send_page
from verifier.resources.sso_start import RESTARTED_PARAM, STEP_UP_PARAM
from verifier.sessions.store import SessionStore
from verifier.sso.config import AUTHORIZE_PATH, SsoConfig
from verifier.sso.handoff import HandoffStore

# What `host` may be spelled with at all before it is compared (as sent, undecoded).
_RAW_HOST = re.compile(r"[a-z0-9.-]{1,253}")
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
# A sign-in this recent satisfies any `max_age` (whose unit is the minute): no step again.
_JUST_SIGNED_IN_SECONDS = 60
BAD_REQUEST = N_("This sign-in request is not valid.")


class Authorize:
    """Mints a one-time code for a listed host and sends the browser there with it."""

    def __init__(
        self,
        sso: SsoConfig,
        handoffs: HandoffStore,
        account: AccountSession,
        sessions: SessionStore,
        gate: Gate,
        login_path: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sso = sso
        self._handoffs = handoffs
        self._account = account
        self._sessions = sessions
        self._gate = gate
        self._login_path = login_path
        self._clock = clock

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Hand a code to the listed host, or send the browser to sign in (here) first."""
        params = _raw_params(req.query_string)
        raw_host, challenge = params.get("host"), params.get("challenge")
        step = params.get(STEP_UP_PARAM)
        restarted = params.get(RESTARTED_PARAM) == "1"
        host = None
        if raw_host is not None and _RAW_HOST.fullmatch(raw_host):
            host = self._sso.app_host(raw_host)
        if host is None:
            self._refuse(req, resp, "host", raw_host)
            return
        if challenge is None or not _CHALLENGE.fullmatch(challenge):
            self._refuse(req, resp, "challenge", raw_host)
            return
        if step is not None and step not in STEPS:
            self._refuse(req, resp, "step_up", raw_host)
            return
        # The way back here once signed in (or stepped up): this request, minus the step.
        back = f"{AUTHORIZE_PATH}?host={host}&challenge={challenge}"
        if restarted:
            back += f"&{RESTARTED_PARAM}=1"
        resp.cache_control = ["no-store"]
        session = await self._account.signed_in(req)
        if session is None:
            self._send_to(resp, f"{self._login_path}?next={quote(back, safe='/')}")
            return
        if step is not None and await self._needs_step(session.user, session.session_id, step):
            query = f"step_up={step}&next={quote(back, safe='/')}"
            self._send_to(resp, f"{self._login_path}?{query}")
            return
        code = await self._handoffs.mint_code(
            host, challenge, session.user, session.session_id, restarted=restarted
        )
        self._gate.audit.record(
            "sso.code_issued", user=session.user, session=session.session_id, host=host
        )
        resp.set_header("Referrer-Policy", "no-referrer")
        resp.status = falcon.HTTP_302
        resp.location = self._sso.callback_url(host, code)

    async def _needs_step(self, user: str, session_id: str, step: str) -> bool:
        sign_in = await self._sessions.stored_sign_in(user, session_id)
        if sign_in is None:
            return True
        if step == MFA:
            return not is_multi_factor(sign_in.amr)
        # MAX_AGE: the app's limit is not known here; only a sign-in just made satisfies
        # any of them, anything older is confirmed again.
        return step == MAX_AGE and self._clock() - sign_in.auth_time > _JUST_SIGNED_IN_SECONDS

    def _send_to(self, resp: falcon.asgi.Response, location: str) -> None:
        resp.status = falcon.HTTP_302
        resp.location = location

    def _refuse(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, reason: str, host: str | None
    ) -> None:
        # A plain page: no redirect, no cookie, whatever `host` said.
        self._gate.audit.record("sso.authorize_refused", reason=reason, host=shown_name(host or ""))
        back = WayBack(ACCOUNT_PATH, YOUR_ACCOUNT)
        send_page(resp, falcon.HTTP_400, refused_page(back, BAD_REQUEST))


def _raw_params(query_string: str) -> dict[str, str]:
    """The query's parameters as sent (never percent-decoded); a repeated one is dropped."""
    found: dict[str, str] = {}
    repeated: set[str] = set()
    for pair in query_string.split("&"):
        name, _, value = pair.partition("=")
        if name in found:
            repeated.add(name)
        found[name] = value
    for name in repeated:
        del found[name]
    return found
