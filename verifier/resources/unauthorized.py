"""`/auth/unauthorized`: what a signed-out visitor gets (nginx's error_page 401 target)."""

from __future__ import annotations

from urllib.parse import quote

import falcon
import falcon.asgi

from verifier.redirects import safe_next


def is_page_navigation(req: falcon.asgi.Request) -> bool:
    """True for a browser loading a page; False for fetch/XHR/API clients."""
    fetch_mode = req.get_header("Sec-Fetch-Mode")
    if fetch_mode is not None and fetch_mode.lower() != "navigate":
        return False
    if (req.get_header("X-Requested-With") or "").lower() == "xmlhttprequest":
        return False
    accept = (req.get_header("Accept") or "").lower()
    return not ("application/json" in accept and "text/html" not in accept)


class Unauthorized:
    """Redirects page navigations to the login page; gives API calls a 401 JSON body."""

    def __init__(self, login_path: str) -> None:
        self._login_path = login_path

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Send the visitor to sign in, remembering where they were going."""
        next_path = safe_next(req.get_header("X-Original-URI"))
        login_url = self._login_path
        if next_path != "/":
            login_url += "?next=" + quote(next_path, safe="/")
        resp.cache_control = ["no-store"]
        if is_page_navigation(req):
            resp.status = falcon.HTTP_302
            resp.location = login_url
            return
        resp.status = falcon.HTTP_401
        resp.media = {"error": "unauthenticated", "login_url": login_url}

    on_head = on_post = on_put = on_patch = on_delete = on_options = on_get
