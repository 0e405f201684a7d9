"""A tiny "legacy" WSGI app for the demo: it trusts the identity headers nginx sets.

It knows nothing about tokens or sessions. nginx (verifier-protect.conf) puts the logged-in
user in X-Auth-User and the session id in X-Auth-Session, replacing any value a client sent.
Served by gunicorn: `gunicorn 'verifier.demo.legacy_app:create_app()'`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

import falcon

USER_HEADER = "X-Auth-User"
SESSION_HEADER = "X-Auth-Session"
GROUPS_HEADER = "X-Auth-Groups"

# Identity pages must not outlive the session in the browser's history or any cache.
_NO_STORE = "no-store"

_STYLE = """
body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; }
form { display: inline-block; margin-right: 1rem; }
button { padding: .5rem 1rem; font-size: 1rem; }
dt { font-weight: 600; }
code { background: #eee; padding: 0 .2rem; }
"""


def _page(title: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{_STYLE}</style>
</head>
<body>
<main>
{body}
</main>
</body>
</html>
"""


def _identity(req: falcon.Request) -> dict[str, str | None]:
    return {
        "user": req.get_header(USER_HEADER),
        "session": req.get_header(SESSION_HEADER),
        "groups": req.get_header(GROUPS_HEADER),
    }


class HomePage:
    """The protected page: who is logged in, and the logout buttons."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Show the identity nginx passed on."""
        identity = _identity(req)
        user, session = identity["user"], identity["session"]
        if user is None:
            # Only reachable without nginx in front, or with a broken nginx configuration.
            who = "<p>No <code>X-Auth-User</code> header: this page is not behind nginx.</p>"
        else:
            who = f"""<p>You are signed in as <strong id="user">{escape(user)}</strong>.</p>
<dl>
<dt>Session</dt><dd><code id="session">{escape(session or "")}</code></dd>
<dt>Served at</dt><dd>{datetime.now(UTC).strftime("%H:%M:%S")} UTC</dd>
</dl>"""
        body = f"""<h1>Legacy app</h1>
{who}
<p>This app never sees a password or a token; it trusts the <code>X-Auth-User</code> header
that nginx sets after asking the verifier.</p>
<form method="post" action="/auth/logout"><button type="submit">Log out</button></form>
<form method="post" action="/auth/logout?all=1">
<button type="submit">Log out everywhere</button></form>
<ul>
<li><a href="/api/whoami">/api/whoami</a>: the same identity as JSON</li>
<li><a href="/api/headers">/api/headers</a>: every request header the app received</li>
<li><a href="/public/">/public/</a>: a page that needs no login</li>
<li><a href="/admin/">/admin/</a>: the admin area, for the group <code>admins</code> only</li>
</ul>"""
        resp.content_type = falcon.MEDIA_HTML
        resp.cache_control = [_NO_STORE]
        resp.text = _page("Legacy app", body)


class WhoAmI:
    """The identity as JSON, for API clients."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Return the user and session nginx passed on (null when absent)."""
        resp.cache_control = [_NO_STORE]
        resp.media = _identity(req)


class HeaderEcho:
    """Every request header the app received, to prove which ones nginx replaced."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Return the request headers as a JSON object with lower-case names."""
        resp.cache_control = [_NO_STORE]
        resp.media = {name.lower(): value for name, value in req.headers.items()}


class AdminPage:
    """The admin area: nginx lets only members of `admins` reach it (`$verifier_require`)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Show who got in, and with which groups."""
        identity = _identity(req)
        body = f"""<h1>Admin area</h1>
<p>Only members of the group <code>admins</code> get here: nginx asked the verifier, which
answered 403 for everyone else. This app checks nothing itself.</p>
<dl>
<dt>User</dt><dd id="user">{escape(identity["user"] or "")}</dd>
<dt>Groups</dt><dd id="groups">{escape(identity["groups"] or "")}</dd>
</dl>
<p><a href="/">Back to the app</a></p>"""
        resp.content_type = falcon.MEDIA_HTML
        resp.cache_control = [_NO_STORE]
        resp.text = _page("Admin area", body)


class PublicPage:
    """A page outside the protected location: anyone may read it."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Say that no login was needed."""
        body = """<h1>Public page</h1>
<p>nginx serves this path without asking the verifier: no login needed.</p>
<p><a href="/">Go to the protected page</a></p>"""
        resp.content_type = falcon.MEDIA_HTML
        resp.text = _page("Public page", body)


def create_app() -> falcon.App[falcon.Request, falcon.Response]:
    """Build the demo legacy app."""
    app = falcon.App()
    app.add_route("/", HomePage())
    app.add_route("/api/whoami", WhoAmI())
    app.add_route("/api/headers", HeaderEcho())
    app.add_route("/public/", PublicPage())
    app.add_route("/admin/", AdminPage())
    return app
