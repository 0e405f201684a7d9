"""The HTML the verifier serves itself: the login and "no access" pages. Plain, accessible,
no JavaScript except the one static passkey script, on the pages that offer passkeys."""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from urllib.parse import quote

# The login page runs no script and loads only the verifier's own stylesheet (no inline
# style either): the policy says so to the browser, and frame-ancestors stops click-jacking
# of the form.
PAGE_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
# The pages that offer passkeys run one script, the verifier's own file (no inline code),
# which calls back to the verifier with fetch(): only those two directives are added.
SCRIPT_PATH = "/auth/static/webauthn.js"
SCRIPT_PAGE_SECURITY_HEADERS = {
    **PAGE_SECURITY_HEADERS,
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}
# Where the passwordless sign-in's two steps are posted (verifier.resources.passkey_signin).
PASSWORDLESS_OPTIONS_PATH = "/auth/login/passkey/options"
PASSWORDLESS_PATH = "/auth/login/passkey"

# The one stylesheet of every page (verifier/static/verifier.css, served by the verifier).
STYLESHEET_PATH = "/auth/static/verifier.css"
DEFAULT_APP_NAME = "verifier"
# The name the pages carry (VERIFIER_APP_NAME), set for each request by the app
# (verifier.app): pages are rendered deep inside resources that need nothing else of it.
_APP_NAME: contextvars.ContextVar[str] = contextvars.ContextVar(
    "verifier_app_name", default=DEFAULT_APP_NAME
)


def set_app_name(name: str) -> None:
    """Name the pages rendered while handling this request."""
    _APP_NAME.set(name)


@dataclass(frozen=True, slots=True)
class ProviderButton:
    """An OpenID Provider on the sign-in page: its label and where its sign-in starts."""

    title: str
    start_path: str


def provider_links(providers: Sequence[ProviderButton], next_path: str) -> str:
    """One link per provider (plain links: the page runs no script), `next` carried along."""
    if not providers:
        return ""
    query = "" if next_path == "/" else "?next=" + quote(next_path, safe="/")
    links = "\n".join(
        f'<li><a class="provider" href="{escape(p.start_path + query)}">{escape(p.title)}</a></li>'
        for p in providers
    )
    return f'\n<ul class="providers" aria-label="Sign in with">\n{links}\n</ul>'


def login_page(
    action: str,
    next_path: str,
    user_name: str = "",
    error: str | None = None,
    notice: str | None = None,
    *,
    passkey: bool = False,
    providers: Sequence[ProviderButton] = (),
    password_form: bool = True,
) -> str:
    """Render the sign-in form; every interpolated value is HTML-escaped.

    `passkey` adds "Sign in with a passkey" (shown by the script, so absent without it);
    `providers` one link per OpenID Provider, beside the form (or alone: `password_form`).
    """
    message = ""
    if error:
        message = f'<p class="error" role="alert" id="form-error">{escape(error)}</p>'
    elif notice:
        message = f'<p class="notice" role="status">{escape(notice)}</p>'
    described_by = ' aria-describedby="form-error"' if error else ""
    passwordless = ""
    if passkey:
        passwordless = passkey_block(
            PASSWORDLESS_OPTIONS_PATH, PASSWORDLESS_PATH, "Sign in with a passkey", next_path
        )
    form = ""
    if password_form:
        form = f"""
<form method="post" action="{escape(action)}"{described_by}>
<input type="hidden" name="next" value="{escape(next_path)}">
<label for="username">User name</label>
<input id="username" name="username" type="text" autocomplete="username" required
 autocapitalize="none" spellcheck="false" maxlength="64" value="{escape(user_name)}" autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>"""
    return _document(
        "Sign in",
        f"""{message}{form}{provider_links(providers, next_path)}{passwordless}""",
        script=passkey,
    )


def forbidden_page(user: str, path: str, logout_action: str) -> str:
    """Render the "no access" page for a signed-in user; every value is HTML-escaped.

    Two ways out, both POSTs to logout (a link must never sign anyone out): sign in as
    someone else (back to `path` afterwards) or just sign out.
    """
    who = f"<strong>{escape(user)}</strong>" if user else "this account"
    switch_action = logout_action + "?next=" + quote(path, safe="/")
    return _document(
        "No access",
        f"""<p role="alert">You are signed in as {who}, which may not open
<code>{escape(path)}</code>.</p>
<p>If you have another account with access, sign in with it.</p>
<form class="inline" method="post" action="{escape(switch_action)}">
<button type="submit">Sign in as someone else</button>
</form>
<form class="inline" method="post" action="{escape(logout_action)}">
<button type="submit">Sign out</button>
</form>""",
    )


def passkey_block(options_path: str, verify_path: str, label: str, next_path: str = "") -> str:
    """A passkey button for the script: where to get options and post the answer.

    The button is `hidden` until the script finds WebAuthn in the browser; errors appear in
    the block's own live region.
    """
    return f"""
<div class="passkey" data-passkey="get" data-options="{escape(options_path)}"
 data-verify="{escape(verify_path)}" data-next="{escape(next_path)}">
<button type="button" hidden>{escape(label)}</button>
<div class="passkey-error" aria-live="assertive"></div>
</div>"""


def document(title: str, body: str, *, script: bool = False) -> str:
    """A page in the shared skeleton (head, stylesheet, the title as its <h1>).

    `script` loads the passkey script: serve such a page with SCRIPT_PAGE_SECURITY_HEADERS.
    """
    return _document(title, body, script=script)


def _document(title: str, body: str, *, script: bool = False) -> str:
    # Every page: the same head, the same stylesheet, the app's name above the card, and
    # the title as the one <h1>.
    tag = f'\n<script src="{SCRIPT_PATH}" defer></script>' if script else ""
    app_name = escape(_APP_NAME.get())
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · {app_name}</title>
<link rel="stylesheet" href="{STYLESHEET_PATH}">{tag}
</head>
<body>
<header class="brand">{app_name}</header>
<main>
<h1>{escape(title)}</h1>
{body}
</main>
</body>
</html>
"""
