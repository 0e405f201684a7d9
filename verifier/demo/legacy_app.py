"""A tiny "legacy" WSGI app for the demo: it trusts the identity headers nginx sets.

It knows nothing about tokens or sessions. nginx (verifier-protect.conf) puts the logged-in
user in X-Auth-User and the session id in X-Auth-Session, replacing any value a client sent.
Served by gunicorn: `gunicorn 'verifier.demo.legacy_app:create_app()'`.

`/api/whoami` and `/admin/` show the other way, the one an app should prefer: they trust no
plain header, only the signed X-Auth-Assertion, verified with the verifier's public keys from
`/.well-known/jwks.json` (PyJWT's PyJWKClient). That is on when DEMO_JWKS_URL is set (the
demo and the tests set it). DEMO_ASSERTION_ISSUER names the expected `iss`; the audiences are
those nginx asks for: "app" by default, ADMIN_AUDIENCE for the admin area
(`$verifier_assertion_audience` in its location).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from html import escape
from typing import Any

import falcon
import jwt

USER_HEADER = "X-Auth-User"
SESSION_HEADER = "X-Auth-Session"
GROUPS_HEADER = "X-Auth-Groups"
ASSERTION_HEADER = "X-Auth-Assertion"
# Set instead of X-Auth-Session when a script called with an API token.
TOKEN_ID_HEADER = "X-Auth-Token-Id"  # noqa: S105 (a header name)
# What the verifier signs assertions with; never taken from the token itself.
ASSERTION_ALGORITHMS = ["EdDSA", "ES256"]
# `sid` (a signed-in session) or `token_id` (an API token): one of the two, checked below.
ASSERTION_CLAIMS = ["iss", "aud", "sub", "iat", "exp"]
DEFAULT_AUDIENCE = "app"
ADMIN_AUDIENCE = "admin-area"

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
        "token": req.get_header(TOKEN_ID_HEADER),
        "groups": req.get_header(GROUPS_HEADER),
    }


# How the assertion's `amr` values read on the home page.
_METHODS = {
    "pwd": "password",
    "otp": "authenticator app",
    "rcv": "recovery code",
    "hwk": "passkey",
}


class HomePage:
    """The protected page: who is logged in, how, and the logout buttons.

    It says nothing about which second factors the user has: the app does not know (the
    account page does, and the link goes there). With assertions on, it shows how this
    session signed in, from the signed `amr`.
    """

    def __init__(self, verifier: AssertionVerifier | None = None) -> None:
        self._verifier = verifier

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
{self._methods(req)}<dt>Served at</dt><dd>{datetime.now(UTC).strftime("%H:%M:%S")} UTC</dd>
</dl>"""
        body = f"""<h1>Legacy app</h1>
{who}
<p>This app never sees a password or a token; it trusts the <code>X-Auth-User</code> header
that nginx sets after asking the verifier.</p>
<form method="post" action="/auth/logout"><button type="submit">Log out</button></form>
<form method="post" action="/auth/logout?all=1">
<button type="submit">Log out everywhere</button></form>
<ul>
<li><a href="/auth/account">Your account</a>: sessions, sign-in methods, password</li>
<li><a href="/api/whoami">/api/whoami</a>: the same identity as JSON</li>
<li><a href="/api/headers">/api/headers</a>: every request header the app received</li>
<li><a href="/public/">/public/</a>: a page that needs no login</li>
<li><a href="/admin/">/admin/</a>: the admin area, for the group <code>admins</code> only,
with a second factor</li>
<li><a href="/auth/account#factors-heading">Two-step sign-in</a>: set up or change your
authenticator app and passkeys, on your account page</li>
</ul>"""
        resp.content_type = falcon.MEDIA_HTML
        resp.cache_control = [_NO_STORE]
        resp.text = _page("Legacy app", body)

    def _methods(self, req: falcon.Request) -> str:
        """How this session signed in, from the verified assertion; nothing without one."""
        if self._verifier is None:
            return ""
        try:
            claims = self._verifier.verify(req, DEFAULT_AUDIENCE)
        except AssertionRefused:
            return ""
        named = [_METHODS[m] for m in claims.get("amr") or [] if m in _METHODS]
        if not named:
            return ""
        return f'<dt>Signed in with</dt><dd id="methods">{escape(", ".join(named))}</dd>\n'


class AssertionVerifier:
    """Checks X-Auth-Assertion against the verifier's JWKS: signature, iss, aud, lifetime."""

    def __init__(self, jwks_url: str, issuer: str) -> None:
        # The key set is cached for a minute; an unknown kid (a new key) refetches it.
        self._keys = jwt.PyJWKClient(jwks_url, lifespan=60, cooldown_duration=0, timeout=5)
        self._issuer = issuer

    def verify(self, req: falcon.Request, audience: str) -> dict[str, Any]:
        """The verified claims of the request's assertion; raise AssertionRefused if none."""
        assertion = req.get_header(ASSERTION_HEADER)
        if not assertion:
            raise AssertionRefused("no identity assertion")
        try:
            key = self._keys.get_signing_key_from_jwt(assertion)
            claims: dict[str, Any] = jwt.decode(
                assertion,
                key,
                algorithms=ASSERTION_ALGORITHMS,
                audience=audience,
                issuer=self._issuer,
                options={"require": ASSERTION_CLAIMS},
            )
        except jwt.PyJWTError as error:
            raise AssertionRefused(f"identity assertion refused: {type(error).__name__}") from None
        if not isinstance(claims.get("sid"), str) and not isinstance(claims.get("token_id"), str):
            raise AssertionRefused("identity assertion refused: neither a session nor a token")
        return claims


class AssertionRefused(Exception):
    """The request carries no valid assertion: the app answers 401, whatever the headers say."""


def _refuse(resp: falcon.Response, refusal: AssertionRefused) -> None:
    resp.status = falcon.HTTP_401
    resp.cache_control = [_NO_STORE]
    resp.media = {"error": str(refusal)}


class WhoAmI:
    """The identity as JSON, for API clients: from the signed assertion when configured."""

    def __init__(self, verifier: AssertionVerifier | None) -> None:
        self._verifier = verifier

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Return who is asking; with assertions on, refuse a request without a valid one."""
        resp.cache_control = [_NO_STORE]
        if self._verifier is None:
            # The header's groups as a list, as the assertion has them: [] for none.
            header_groups = req.get_header(GROUPS_HEADER) or ""
            resp.media = {
                **_identity(req),
                "groups": [group for group in header_groups.split(",") if group],
            }
            return
        try:
            claims = self._verifier.verify(req, DEFAULT_AUDIENCE)
        except AssertionRefused as refusal:
            _refuse(resp, refusal)
            return
        resp.media = {
            "user": claims["sub"],
            "session": claims.get("sid"),
            "token": claims.get("token_id"),
            # The assertion's own list: [] for a user without groups, never null.
            "groups": list(claims.get("groups") or []),
            "verified": True,
            "claims": claims,
        }


class HeaderEcho:
    """Every request header the app received, to prove which ones nginx replaced."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Return the request headers as a JSON object with lower-case names."""
        resp.cache_control = [_NO_STORE]
        resp.media = {name.lower(): value for name, value in req.headers.items()}


class AdminPage:
    """The admin area: nginx lets only members of `admins` reach it (`$verifier_require`)."""

    def __init__(self, verifier: AssertionVerifier | None) -> None:
        self._verifier = verifier

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Show who got in, and with which groups (from the assertion when configured)."""
        identity = _identity(req)
        verified = ""
        if self._verifier is not None:
            try:
                claims = self._verifier.verify(req, ADMIN_AUDIENCE)
            except AssertionRefused as refusal:
                _refuse(resp, refusal)
                return
            identity = {"user": claims["sub"], "groups": ",".join(claims.get("groups") or [])}
            verified = f"""<p id="verified">Verified from the signed assertion (audience
<code>{escape(str(claims["aud"]))}</code>, key <code>{escape(_kid(req))}</code>).</p>"""
        body = f"""<h1>Admin area</h1>
<p>Only members of the group <code>admins</code> get here: nginx asked the verifier, which
answered 403 for everyone else. This app checks nothing itself.</p>
<dl>
<dt>User</dt><dd id="user">{escape(identity["user"] or "")}</dd>
<dt>Groups</dt><dd id="groups">{escape(identity["groups"] or "")}</dd>
</dl>
{verified}
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


def _kid(req: falcon.Request) -> str:
    kid = jwt.get_unverified_header(req.get_header(ASSERTION_HEADER) or "").get("kid")
    return str(kid)


def _assertion_verifier(environ: Mapping[str, str]) -> AssertionVerifier | None:
    jwks_url = environ.get("DEMO_JWKS_URL")
    if not jwks_url:
        return None
    return AssertionVerifier(jwks_url, issuer=environ.get("DEMO_ASSERTION_ISSUER", "verifier"))


def _serialize_error(req: falcon.Request, resp: falcon.Response, error: falcon.HTTPError) -> None:
    """Errors (the 404 above all) as a page of this app for browsers, JSON for the rest.

    falcon's default picks XML for a browser's Accept header, which shows as raw markup.
    """
    resp.cache_control = [_NO_STORE]
    if req.client_prefers([falcon.MEDIA_HTML, falcon.MEDIA_JSON]) == falcon.MEDIA_HTML:
        title = error.title or "Error"
        description = f"<p>{escape(error.description)}</p>" if error.description else ""
        if error.status_code == 404:
            description += f"<p>The demo app has no page at <code>{escape(req.path)}</code>.</p>"
        body = f"""<h1>{escape(title)}</h1>
{description}
<p><a href="/">Go to the app</a></p>"""
        resp.content_type = falcon.MEDIA_HTML
        resp.text = _page(title, body)
        return
    resp.content_type = falcon.MEDIA_JSON
    resp.media = error.to_dict()


def create_app() -> falcon.App[falcon.Request, falcon.Response]:
    """Build the demo legacy app."""
    app = falcon.App()
    app.set_error_serializer(_serialize_error)
    verifier = _assertion_verifier(os.environ)
    app.add_route("/", HomePage(verifier))
    app.add_route("/api/whoami", WhoAmI(verifier))
    app.add_route("/api/headers", HeaderEcho())
    app.add_route("/public/", PublicPage())
    app.add_route("/admin/", AdminPage(verifier))
    return app
