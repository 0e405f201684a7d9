"""Sign-in at an OpenID Provider: `/auth/oidc/ID/start` and `/auth/oidc/ID/callback` (one pair
per provider; never behind auth_request).

start: a flow is remembered (verifier.users.sources.oidc_flows), the browser gets its binding
cookie and goes to the provider with state, nonce and a PKCE S256 challenge; `next` waits in
the flow, checked by the same safe rule as the password form.

callback: the flow is taken (GETDEL) before anything is checked, so its state works once,
pass or fail, and the binding cookie is cleared. Then the flow must be this provider's and
this browser's, RFC 9207's `iss` must match, the code is redeemed with the verifier and the
id_token checked by us. The user ends in one of our ordinary sessions, through our second
step unless the provider is trusted for it. Every refusal is a page with an exact status and
no session cookie: 400 for a flow or a response this browser cannot finish, 403 for an
identity we refuse (a token that fails a check, a name that is not ours to give), 503 with
Retry-After when the provider cannot be asked (fail closed: nobody signed in is touched).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import falcon
import falcon.asgi

from verifier.access.conditions import MAX_AGE
from verifier.factors.methods import is_multi_factor
from verifier.gate import Gate
from verifier.i18n import N_, _
from verifier.observe.audit import shown_name
from verifier.observe.metrics import (
    SIGNIN_NAME_REFUSED,
    SIGNIN_PROVIDER_REFUSED,
    SIGNIN_SOURCE_UNAVAILABLE,
    SIGNIN_STEPPED_UP,
    UPSTREAM_OK,
    UPSTREAM_REFUSED,
    UPSTREAM_UNAVAILABLE,
)
from verifier.pages.common import PAGE_SECURITY_HEADERS, ProviderButton, login_page
from verifier.resources.login import (
    NAME_REFUSED,
    NAME_RULE,
    NAME_TAKEN,
    SOURCE_RETRY_AFTER_SECONDS,
    SecondStep,
    client_address,
)
from verifier.resources.oidc_step_up import OidcStepUps
from verifier.sessions.devices import device_summary
from verifier.sessions.pending_signin import FirstStep
from verifier.sessions.store import SessionStore
from verifier.upstream.mapping import NameRefused
from verifier.users.sources.accounts import NameTaken, UpstreamAccounts
from verifier.users.sources.interface import SourceUnavailable
from verifier.users.sources.oidc_flows import Flow, FlowStore
from verifier.users.sources.oidc_source import OidcSignedIn, OidcSource, SignInRefused
from verifier.users.sources.oidc_tokens import TokenRefused
from verifier.web.cookies import CookiePolicy, read_oidc_flow_cookie
from verifier.web.redirects import safe_next

log = logging.getLogger(__name__)

PROVIDER_UNAVAILABLE = N_(
    "The sign-in provider cannot be reached right now, so you cannot sign in through it. "
    "Try again in a few minutes."
)
FLOW_LOST = N_(
    "This sign-in cannot be finished: it took too long, was already used, or was started in "
    "another browser. Start again."
)
PROVIDER_SAID_NO = N_("The sign-in provider did not sign you in. Start again.")
TOKEN_REFUSED = N_(
    "The sign-in provider's answer failed our checks, so you are not signed in. An "
    "administrator can find the reason in the audit log."
)
STEP_UP_OTHER_USER = N_(
    "The sign-in provider signed in someone else, so this page stays closed. Sign in again "
    "there as yourself."
)
STEP_UP_NOT_AGAIN = N_(
    "The sign-in provider did not ask for your password again, so this page stays closed."
)
# An authorization code is a few hundred characters at most.
MAX_CODE_LENGTH = 2048


class OidcPages:
    """The sign-in page the OpenID resources answer refusals with (with its buttons)."""

    def __init__(self, login_path: str, providers: Sequence[ProviderButton], password_form: bool):
        self.login_path = login_path
        self.providers = tuple(providers)
        self.password_form = password_form

    def refuse(self, resp: falcon.asgi.Response, status: str, message: str, next_path: str) -> None:
        """Answer `status` with the sign-in page saying `message`."""
        resp.status = status
        resp.cache_control = ["no-store"]
        resp.set_headers(PAGE_SECURITY_HEADERS)
        resp.content_type = falcon.MEDIA_HTML
        resp.text = login_page(
            self.login_path,
            next_path,
            error=message,
            providers=self.providers,
            password_form=self.password_form,
        )


class OidcStart:
    """GET: remember a flow, set its binding cookie, send the browser to the provider.

    With `step_up=max_age` and a live session of this provider's user, the flow is a step-up
    of that session: the provider is asked to sign the user in again (prompt=login).
    """

    def __init__(
        self,
        source: OidcSource,
        flows: FlowStore,
        cookies: CookiePolicy,
        gate: Gate,
        pages: OidcPages,
        step_ups: OidcStepUps,
        clock: Callable[[], float],
    ) -> None:
        self._source = source
        self._flows = flows
        self._cookies = cookies
        self._gate = gate
        self._pages = pages
        self._step_ups = step_ups
        self._clock = clock

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Start a sign-in at the provider (503 page if it cannot be asked)."""
        next_path = safe_next(req.get_param("next"))
        lifetime = self._source.config.flow_seconds
        session = None
        if req.get_param("step_up") == MAX_AGE:
            # Without a live session of this provider's user: an ordinary sign-in, which
            # gives a fresh session (that satisfies max_age too).
            session = await self._step_ups.session_of(req, self._source.name)
        try:
            # Discovery read now: a provider that is down gets our clear page here rather
            # than a browser error there, and costs no Redis write.
            await self._source.metadata(fresh=True)
            started = await self._flows.begin(
                self._source.name,
                next_path,
                lifetime,
                step_up_session="" if session is None else session.session_id,
                started_at=self._clock(),
            )
            location = await self._source.authorization_url(started, again=session is not None)
        except SourceUnavailable as down:
            _unavailable(self._gate, self._pages, resp, down, next_path, client_address(req))
            return
        resp.cache_control = ["no-store"]
        resp.append_header("Set-Cookie", self._cookies.set_oidc_flow(started.binding, lifetime))
        resp.status = falcon.HTTP_303
        resp.location = location


class OidcCallback:
    """GET: finish a sign-in the provider sends back (see the module docstring)."""

    def __init__(
        self,
        source: OidcSource,
        flows: FlowStore,
        cookies: CookiePolicy,
        gate: Gate,
        pages: OidcPages,
        accounts: UpstreamAccounts,
        sessions: SessionStore,
        second_step: SecondStep | None,
        clock: Callable[[], float],
        step_ups: OidcStepUps,
    ) -> None:
        self._source = source
        self._flows = flows
        self._cookies = cookies
        self._gate = gate
        self._pages = pages
        self._accounts = accounts
        self._sessions = sessions
        self._second_step = second_step
        self._clock = clock
        self._step_ups = step_ups

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Finish the sign-in: a session (or the second step), else a refusal page."""
        # Whatever happens next, this browser's flow is spent.
        resp.append_header("Set-Cookie", self._cookies.clear_oidc_flow())
        resp.cache_control = ["no-store"]
        address = client_address(req)
        state = req.get_param("state") or ""
        flow = await self._flows.take(state)
        binding = read_oidc_flow_cookie(req.get_header("Cookie"), self._cookies)
        if flow is None or flow.source != self._source.name or not flow.bound_to(binding):
            self._failed(address, "flow")
            self._pages.refuse(resp, falcon.HTTP_400, FLOW_LOST, "/")
            return
        next_path = safe_next(flow.next_path)
        if req.get_param("error") is not None:
            self._failed(address, "provider_error")
            self._pages.refuse(resp, falcon.HTTP_403, PROVIDER_SAID_NO, next_path)
            return
        code = req.get_param("code") or ""
        if not code or len(code) > MAX_CODE_LENGTH or not code.isprintable():
            self._failed(address, "no_code")
            self._pages.refuse(resp, falcon.HTTP_400, FLOW_LOST, next_path)
            return
        if flow.step_up_session:
            await self._step_up(req, resp, code, flow, address, next_path)
            return
        signed = await self._finish(resp, code, flow, req.get_param("iss"), address, next_path)
        if signed is None:
            return
        try:
            user = await self._accounts.admit(signed.user, self._clock())
        except NameTaken as taken:
            self._gate.metrics.signin(SIGNIN_NAME_REFUSED)
            self._gate.audit.record(
                "signin.name_taken",
                user=taken.name,
                owner=taken.owner,
                source=taken.source,
                upstream_id=taken.upstream_id,
                address=address,
            )
            self._pages.refuse(resp, falcon.HTTP_403, NAME_TAKEN, next_path)
            return
        await self._sign_in(req, resp, user, signed, next_path, address)

    async def _finish(
        self,
        resp: falcon.asgi.Response,
        code: str,
        flow: Flow,
        iss: str | None,
        address: str,
        next_path: str,
    ) -> OidcSignedIn | None:
        name = self._source.name
        metrics = self._gate.metrics
        try:
            signed = await self._source.finish(code, flow, iss)
        except SourceUnavailable as down:
            _unavailable(self._gate, self._pages, resp, down, next_path, address)
            return None
        except SignInRefused as refused:
            metrics.upstream_call(name, "signin", UPSTREAM_REFUSED)
            self._failed(address, refused.reason)
            self._pages.refuse(resp, falcon.HTTP_400, FLOW_LOST, next_path)
            return None
        except TokenRefused as refused:
            metrics.upstream_call(name, "signin", UPSTREAM_REFUSED)
            self._failed(address, f"id_token_{refused.reason}")
            self._pages.refuse(resp, falcon.HTTP_403, TOKEN_REFUSED, next_path)
            return None
        except NameRefused as refused:
            metrics.upstream_call(name, "signin", UPSTREAM_OK)
            metrics.signin(SIGNIN_NAME_REFUSED)
            self._gate.audit.record(
                "signin.name_refused",
                user=shown_name(refused.raw),
                source=refused.source,
                address=address,
            )
            message = _(NAME_REFUSED).format(
                source=refused.source, name=repr(refused.raw[:64]), rule=_(NAME_RULE)
            )
            self._pages.refuse(resp, falcon.HTTP_403, message, next_path)
            return None
        metrics.upstream_call(name, "signin", UPSTREAM_OK)
        return signed

    async def _sign_in(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        user: str,
        signed: OidcSignedIn,
        next_path: str,
        address: str,
    ) -> None:
        interval = self._source.recheck_policy.interval_seconds
        if self._second_step is not None and not is_multi_factor(signed.amr):
            # Our factor policy, as for a password: the provider is not trusted for it.
            step = await self._second_step.needed(user)
            if step is not None:
                first = FirstStep(amr=signed.amr, upstream=signed.link, recheck_interval=interval)
                await self._second_step.begin(req, resp, user, step, next_path, first)
                return
        session = await self._sessions.create(
            user,
            signed.amr,
            signed.auth_time,
            device=device_summary(req.get_header("User-Agent")),
            address=address,
            upstream=signed.link,
            recheck_interval=interval,
        )
        for cookie in self._gate.signed_in(session, address, signed.amr):
            resp.append_header("Set-Cookie", cookie)
        resp.status = falcon.HTTP_303
        resp.location = next_path

    async def _step_up(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        code: str,
        flow: Flow,
        address: str,
        next_path: str,
    ) -> None:
        # The session that asked must still be this browser's, and the provider must have
        # signed in the same user, just now; only then is that session strengthened.
        session = await self._step_ups.session_of(req, self._source.name)
        if session is None or session.session_id != flow.step_up_session:
            self._failed(address, "step_up_session")
            self._pages.refuse(resp, falcon.HTTP_400, FLOW_LOST, next_path)
            return
        signed = await self._finish(resp, code, flow, req.get_param("iss"), address, next_path)
        if signed is None:
            return
        if signed.link.upstream_id != session.upstream_id:
            self._failed(address, "step_up_other_user")
            self._pages.refuse(resp, falcon.HTTP_403, STEP_UP_OTHER_USER, next_path)
            return
        skew = self._source.config.clock_skew_seconds
        if not flow.signed_in_again(signed.stated_auth_time, skew):
            self._failed(address, "step_up_auth_time")
            self._pages.refuse(resp, falcon.HTTP_403, STEP_UP_NOT_AGAIN, next_path)
            return
        stepped = await self._gate.strengthen(session.ref, signed.amr)
        if stepped is None:
            self._failed(address, "step_up_session")
            self._pages.refuse(resp, falcon.HTTP_400, FLOW_LOST, next_path)
            return
        self._gate.metrics.signin(SIGNIN_STEPPED_UP)
        self._gate.audit.record(
            "signin.stepped_up",
            user=session.ref.user,
            session=session.session_id,
            address=address,
            step=MAX_AGE,
            methods=",".join(signed.amr),
            amr=",".join(stepped.sign_in.amr),
            source=self._source.name,
        )
        resp.append_header("Set-Cookie", stepped.set_access_cookie)
        resp.status = falcon.HTTP_303
        resp.location = next_path

    def _failed(self, address: str, reason: str) -> None:
        self._gate.metrics.signin(SIGNIN_PROVIDER_REFUSED)
        self._gate.audit.record(
            "signin.failed",
            user="",
            address=address,
            reason=f"oidc_{reason}",
            source=self._source.name,
        )


def _unavailable(
    gate: Gate,
    pages: OidcPages,
    resp: falcon.asgi.Response,
    down: SourceUnavailable,
    next_path: str,
    address: str,
) -> None:
    # Fail closed and say why; nobody already signed in is touched.
    log.warning("sign-in through %s failed: %s", down.source, down.reason)
    gate.metrics.upstream_call(down.source, "signin", UPSTREAM_UNAVAILABLE)
    gate.metrics.signin(SIGNIN_SOURCE_UNAVAILABLE)
    gate.audit.record(
        "signin.failed",
        user="",
        address=address,
        reason=SIGNIN_SOURCE_UNAVAILABLE,
        source=down.source,
    )
    resp.retry_after = SOURCE_RETRY_AFTER_SECONDS
    pages.refuse(resp, falcon.HTTP_503, PROVIDER_UNAVAILABLE, next_path)
