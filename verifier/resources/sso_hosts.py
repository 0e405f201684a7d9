"""Single sign-on: what each host may ask of the verifier (a Falcon middleware).

One set of verifiers serves the portal and every app host; the request's Host (nginx's
`$host`) says which it is talking to:

- the portal: every page, as without single sign-on (every sign-in happens here), except
  the app hosts' callback;
- a listed app host: the callback, logout, and the pages nginx's error_page sends there
  (/auth/unauthorized, /auth/forbidden). Its sign-in path starts a hand-off to the portal
  (GET); its account pages send the browser to the portal's; everything else of the
  portal's (the password, second-factor, passkey and step-up forms) is not here: 404;
- any other host: a 400 page, never a redirect.
"""

from __future__ import annotations

import falcon
import falcon.asgi

from verifier.access.conditions import STEPS
from verifier.i18n import _
from verifier.pages.common import APP_HOME, WayBack
from verifier.pages.sso import (
    BACK_TO_APP,
    NOT_HERE,
    TO_PORTAL,
    YOUR_ACCOUNT,
    not_here_page,
    refused_page,
)
from verifier.resources.page_answers import send_json, send_page
from verifier.resources.sso_callback import RESTART_PARAM
from verifier.resources.sso_start import HandoffStart
from verifier.sso.config import CALLBACK_PATH
from verifier.web.hosts import request_host
from verifier.web.redirects import safe_next

ACCOUNT_PREFIX = "/auth/account"
# What an app host serves as itself: the hand-off's end and what nginx sends there.
_APP_HOST_PATHS = frozenset(
    {CALLBACK_PATH, "/auth/unauthorized", "/auth/forbidden", "/auth/logout"}
)


_FORM_ACTION = "form-action 'self'"


class SsoHostRoles:
    """Routes each request by the role of its host (see the module's docstring)."""

    def __init__(self, handoff: HandoffStart, login_path: str, host_free: frozenset[str]) -> None:
        self._handoff = handoff
        self._sso = handoff.sso
        # A form posted on the portal (sign-in, second factor, step-up) ends in a redirect
        # through the authorize endpoint to an app host's callback, and browsers hold every
        # redirect after a form submission to the page's CSP `form-action`: the app hosts'
        # origins are added to the portal pages' policy.
        sources = [self._sso.portal.origin_of(name) for name in sorted(self._sso.hosts.names)]
        sources += [
            self._sso.portal.origin_of("*." + parent) for parent in self._sso.hosts.wildcard_parents
        ]
        self._portal_form_action = " ".join([_FORM_ACTION, *sources])
        self._login_path = login_path
        # Paths that say nothing of a host (health, readiness, public keys, static files).
        self._host_free = host_free

    async def process_request(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Answer here whatever this host may not ask for; let the rest through."""
        path = req.path
        if path in self._host_free:
            return
        host = request_host(req)
        if host == self._sso.portal_host:
            if path == CALLBACK_PATH:
                self._not_here(req, resp, WayBack(ACCOUNT_PREFIX, YOUR_ACCOUNT))
            return
        app_host = self._sso.app_host(host)
        if app_host is None:
            # Not ours: the portal is the one place this page can send anyone back to.
            to_portal = WayBack(self._sso.portal_page(ACCOUNT_PREFIX), TO_PORTAL)
            send_page(resp, falcon.HTTP_400, refused_page(to_portal))
            resp.complete = True
            return
        if path in _APP_HOST_PATHS:
            return
        if req.method in {"GET", "HEAD"} and path == self._login_path:
            step = req.get_param("step_up")
            await self._handoff.redirect(
                resp,
                app_host,
                safe_next(req.get_param("next")),
                step if step in STEPS else None,
                restarted=req.get_param(RESTART_PARAM) == "1",
            )
            resp.complete = True
            return
        if req.method in {"GET", "HEAD"} and (
            path == ACCOUNT_PREFIX or path.startswith(ACCOUNT_PREFIX + "/")
        ):
            resp.cache_control = ["no-store"]
            resp.status = falcon.HTTP_303
            resp.location = self._sso.portal_page(ACCOUNT_PREFIX)
            resp.complete = True
            return
        self._not_here(req, resp, WayBack(APP_HOME, BACK_TO_APP))

    async def process_response(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        resource: object,
        req_succeeded: bool,
    ) -> None:
        """On the portal, let the pages' forms end on the app hosts (see __init__)."""
        policy = resp.get_header("Content-Security-Policy")
        if policy and _FORM_ACTION in policy and request_host(req) == self._sso.portal_host:
            resp.set_header(
                "Content-Security-Policy", policy.replace(_FORM_ACTION, self._portal_form_action)
            )

    def _not_here(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, back: WayBack
    ) -> None:
        # `back`: the app on an app host, the account on the portal (catalog messages).
        accept = (req.get_header("Accept") or "").lower()
        if "application/json" in accept and "text/html" not in accept:
            message = _(NOT_HERE).format(portal=self._sso.portal.origin)
            send_json(resp, falcon.HTTP_404, {"error": message})
        else:
            send_page(resp, falcon.HTTP_404, not_here_page(self._sso.portal.origin, back))
        resp.complete = True
