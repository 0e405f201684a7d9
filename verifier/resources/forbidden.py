"""`/auth/forbidden`: what a signed-in user who may not enter gets (nginx's error_page 403)."""

from __future__ import annotations

from urllib.parse import quote

import falcon
import falcon.asgi

from verifier.pages.common import PAGE_SECURITY_HEADERS, forbidden_page
from verifier.resources.unauthorized import (
    INSUFFICIENT_SCOPE,
    is_bearer_request,
    is_page_navigation,
)
from verifier.store.keyspace import normalize_user_name
from verifier.web.redirects import safe_next

# Set by nginx's @verifier_forbidden from the check's own answer; `location /auth/` clears
# any copy a client sends, and the value is only ever displayed, never trusted for a decision.
USER_HEADER = "X-Verifier-User"


class Forbidden:
    """A clear "no access" page for browsers, 403 JSON for API calls; never a redirect."""

    def __init__(self, login_path: str, logout_path: str) -> None:
        self._login_path = login_path
        self._logout_path = logout_path

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Tell who is signed in and offer to switch account; the status is always 403."""
        path = safe_next(req.get_header("X-Original-URI"))
        user = normalize_user_name(req.get_header(USER_HEADER) or "") or ""
        resp.status = falcon.HTTP_403
        resp.cache_control = ["no-store"]
        if is_bearer_request(req):
            # A token outside its scope, or its owner may not enter: JSON for the script,
            # never a page or a way to sign in as someone else.
            resp.set_header("WWW-Authenticate", INSUFFICIENT_SCOPE)
            resp.media = {"error": "forbidden", "user": user or None}
            return
        if is_page_navigation(req):
            resp.set_headers(PAGE_SECURITY_HEADERS)
            resp.content_type = falcon.MEDIA_HTML
            resp.text = forbidden_page(user, path, self._logout_path)
            return
        switch_url = self._login_path + ("?next=" + quote(path, safe="/") if path != "/" else "")
        resp.media = {"error": "forbidden", "user": user or None, "login_url": switch_url}

    on_head = on_post = on_put = on_patch = on_delete = on_options = on_get
