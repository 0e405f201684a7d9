"""`/auth/unauthorized`: what a signed-out visitor, or one who needs a step-up, gets (nginx's
error_page 401 target)."""

from __future__ import annotations

from urllib.parse import quote

import falcon
import falcon.asgi

from verifier.access.conditions import STEPS
from verifier.resources.sso_start import HandoffStart
from verifier.web.hosts import request_host
from verifier.web.redirects import safe_next

# Set by nginx's @verifier_unauthorized from the check's own answer (`location /auth/`
# clears any copy a client sends). Only a known step counts: anything else is a plain 401.
STEP_UP_HEADER = "X-Verifier-Step-Up"
# Set by nginx (verifier-http.conf's map) when the request carried one of our API tokens in
# its Authorization header: a script, never a browser page; `location /auth/` clears any
# copy a client sends. The check's own answer adds the wait of a throttled one.
BEARER_HEADER = "X-Verifier-Bearer"
RETRY_AFTER_HEADER = "X-Verifier-Retry-After"
# RFC 6750: how a resource server names its bearer scheme and why a token was refused.
INVALID_TOKEN = 'Bearer realm="verifier", error="invalid_token"'  # noqa: S105 (a header)
INSUFFICIENT_SCOPE = 'Bearer realm="verifier", error="insufficient_scope"'
_MAX_RETRY_AFTER = 3600


def is_bearer_request(req: falcon.asgi.Request) -> bool:
    """True when nginx says the request carried an API token (a script: JSON, never a page)."""
    return bool(req.get_header(BEARER_HEADER))


def is_page_navigation(req: falcon.asgi.Request) -> bool:
    """True for a browser loading a page; False for fetch/XHR/API clients."""
    fetch_mode = req.get_header("Sec-Fetch-Mode")
    if fetch_mode is not None and fetch_mode.lower() != "navigate":
        return False
    if (req.get_header("X-Requested-With") or "").lower() == "xmlhttprequest":
        return False
    accept = (req.get_header("Accept") or "").lower()
    return not ("application/json" in accept and "text/html" not in accept)


def sign_in_url(login_path: str, next_path: str, step_up: str | None = None) -> str:
    """The sign-in page, for a step-up if one is named, coming back to `next_path`."""
    query = [f"step_up={step_up}"] if step_up is not None else []
    if next_path != "/":
        query.append("next=" + quote(next_path, safe="/"))
    return login_path + ("?" + "&".join(query) if query else "")


class Unauthorized:
    """Redirects page navigations to the login page; gives API calls a 401 JSON body.

    For a signed-in user who needs a step-up the login page is asked for that step
    (`?step_up=mfa&next=...`), and the JSON names the same URL as `step_up`.
    """

    def __init__(self, login_path: str, handoff: HandoffStart | None = None) -> None:
        self._login_path = login_path
        # Single sign-on: on an app host a page navigation goes to the portal instead.
        self._handoff = handoff

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Send the visitor to sign in, remembering where they were going."""
        if is_bearer_request(req):
            _refuse_bearer(req, resp)
            return
        next_path = safe_next(req.get_header("X-Original-URI"))
        step = req.get_header(STEP_UP_HEADER)
        step_up = step if step in STEPS else None
        login_url = sign_in_url(self._login_path, next_path, step_up)
        resp.cache_control = ["no-store"]
        handoff = self._handoff
        app_host = None if handoff is None else handoff.sso.app_host(request_host(req))
        if is_page_navigation(req):
            if handoff is not None and app_host is not None:
                await handoff.redirect(resp, app_host, next_path, step_up)
                return
            resp.status = falcon.HTTP_302
            resp.location = login_url
            return
        resp.status = falcon.HTTP_401
        # On an app host, login_url (this host's /auth/login) starts the hand-off itself.
        if step_up is None:
            resp.media = {"error": "unauthenticated", "login_url": login_url}
        else:
            resp.media = {"error": "step_up_required", "step_up": login_url, "login_url": login_url}
        if handoff is not None and app_host is not None:
            resp.media["portal_url"] = handoff.sso.portal.origin

    on_head = on_post = on_put = on_patch = on_delete = on_options = on_get


def _refuse_bearer(req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
    """A refused API token: 401 (the same for every reason), or 429 when the client's address
    was throttled; no redirect, no cookie, no login URL (nobody is there to sign in)."""
    resp.cache_control = ["no-store"]
    wait = req.get_header(RETRY_AFTER_HEADER) or ""
    if wait.isascii() and wait.isdigit() and 1 <= int(wait) <= _MAX_RETRY_AFTER:
        resp.status = falcon.HTTP_429
        resp.retry_after = int(wait)
        resp.media = {
            "error": "too_many_requests",
            "error_description": f"Too many refused tokens from here: retry after {wait} s.",
        }
        return
    resp.status = falcon.HTTP_401
    resp.set_header("WWW-Authenticate", INVALID_TOKEN)
    resp.media = {
        "error": "invalid_token",
        "error_description": "The token is malformed, unknown, revoked or expired.",
    }
