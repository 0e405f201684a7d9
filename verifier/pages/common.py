"""The HTML the verifier serves itself: the shared skeleton, the login and "no access" pages.
Plain, accessible, no JavaScript except the one static passkey script, on the pages that
offer passkeys.

Every string a reader sees is in the message catalogs (verifier.i18n): written in English
inside `_()`, and a page's own values (a user name, a date, a code) are set apart with
`translate="no"` or a `<time>` element, so neither a browser's translator nor our catalog
test takes them for text to translate.
"""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from urllib.parse import quote

from verifier.i18n import _, current_language

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
# Where the app is, for the pages that lead back to it when no `next` says more.
APP_HOME = "/"

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
class WayBack:
    """The link at the top of a page that leads back: where to, and what it says."""

    href: str
    label: str


def html_format(template: str, **values: str) -> str:
    """A translated sentence with pieces of markup in it.

    The sentence (a catalog's, so a translator's) is escaped; each value is inserted as it
    is, so it must be markup already: escape() the data in it, or build it with the helpers
    below. Placeholders are `{name}`: the catalog test keeps them the same in every language.
    """
    return escape(template, quote=False).format(**values)


def data(value: str, tag: str = "span") -> str:
    """A value of the page's own (a name, an address, a code): escaped, and not to translate."""
    return f'<{tag} translate="no">{escape(value)}</{tag}>'


def messages(error: str | None, notice: str | None = None, region_id: str = "form-error") -> str:
    """The page's live region, with the error (an alert) or the notice in it, translated.

    The region exists on every render, so assistive technology is watching it before an
    error appears in it. `error` and `notice` are catalog messages (see verifier.i18n).
    """
    inner = ""
    if error:
        inner = f'<p class="error" role="alert">{escape(_(error))}</p>'
    elif notice:
        inner = f'<p class="notice" role="status">{escape(_(notice))}</p>'
    return f'<div id="{region_id}" aria-live="assertive">{inner}</div>'


def described(error: str | None, region_id: str = "form-error") -> str:
    """The attribute that ties a form to its error, when there is one."""
    return f' aria-describedby="{region_id}"' if error else ""


def cancel_link(href: str, label: str | None = None) -> str:
    """A secondary "Cancel" beside a form's button: a link, so leaving never posts anything."""
    text = label if label is not None else _("Cancel")
    return f'<a class="button-link" href="{escape(href)}">{escape(text)}</a>'


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
        # The provider's name is the operator's, not a message: kept as it is.
        f'<li><a class="provider" href="{escape(p.start_path + query)}" translate="no">'
        f"{escape(p.title)}</a></li>"
        for p in providers
    )
    # TRANSLATORS: the accessible name of the list of identity providers ("Sign in with" Google...).
    label = escape(_("Sign in with"))
    return f'\n<ul class="providers" aria-label="{label}">\n{links}\n</ul>'


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
    The sign-in page is where every way back ends: it has none of its own.
    """
    message = ""
    if error:
        message = f'<p class="error" role="alert" id="form-error">{escape(_(error))}</p>'
    elif notice:
        message = f'<p class="notice" role="status">{escape(_(notice))}</p>'
    passwordless = ""
    if passkey:
        passwordless = passkey_block(
            PASSWORDLESS_OPTIONS_PATH, PASSWORDLESS_PATH, _("Sign in with a passkey"), next_path
        )
    form = ""
    if password_form:
        form = f"""
<form method="post" action="{escape(action)}"{described(error)}>
<input type="hidden" name="next" value="{escape(next_path)}">
<label for="username">{escape(_("User name"))}</label>
<input id="username" name="username" type="text" autocomplete="username" required
 autocapitalize="none" spellcheck="false" maxlength="64" value="{escape(user_name)}" autofocus>
<label for="password">{escape(_("Password"))}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">{escape(_("Sign in"))}</button>
</form>"""
    return _document(
        _("Sign in"),
        f"""{message}{form}{provider_links(providers, next_path)}{passwordless}""",
        script=passkey,
    )


def forbidden_page(user: str, path: str, logout_action: str) -> str:
    """Render the "no access" page for a signed-in user; every value is HTML-escaped.

    Two ways out, both POSTs to logout (a link must never sign anyone out): sign in as
    someone else (back to `path` afterwards) or just sign out; and the way back to the app
    (or, when the app's home is the page refused, to the account).
    """
    who = f"<strong>{data(user)}</strong>" if user else ""
    refused = f"<code>{data(path)}</code>"
    if user:
        sentence = html_format(
            _("You are signed in as {user}, which may not open {path}."), user=who, path=refused
        )
    else:
        sentence = html_format(_("This account may not open {path}."), path=refused)
    switch_action = logout_action + "?next=" + quote(path, safe="/")
    back = (
        WayBack(APP_HOME, _("Back to the app"))
        if path != APP_HOME
        else WayBack("/auth/account", _("Your account"))
    )
    return _document(
        _("No access"),
        f"""<p role="alert">{sentence}</p>
<p>{escape(_("If you have another account with access, sign in with it."))}</p>
<form class="inline" method="post" action="{escape(switch_action)}">
<button type="submit">{escape(_("Sign in as someone else"))}</button>
</form>
<form class="inline" method="post" action="{escape(logout_action)}">
<button type="submit">{escape(_("Sign out"))}</button>
</form>""",
        back=back,
    )


def passkey_block(options_path: str, verify_path: str, label: str, next_path: str = "") -> str:
    """A passkey button for the script: where to get options and post the answer.

    The button is `hidden` until the script finds WebAuthn in the browser; errors appear in
    the block's own live region. The script's own words come from the page, translated.
    """
    return f"""
<div class="passkey" data-passkey="get" data-options="{escape(options_path)}"
 data-verify="{escape(verify_path)}" data-next="{escape(next_path)}"{script_messages()}>
<button type="button" hidden>{escape(label)}</button>
<div class="passkey-error" aria-live="assertive"></div>
</div>"""


def script_messages() -> str:
    """What the passkey script may have to say itself, as attributes of its block."""
    said = {
        "data-cancelled": _("The passkey prompt was cancelled or timed out."),
        "data-failed": _("The passkey could not be used."),
        "data-refused": _("The passkey was not accepted."),
        "data-already": _("That passkey is already registered."),
    }
    return "".join(f' {name}="{escape(text)}"' for name, text in said.items())


def document(title: str, body: str, *, script: bool = False, back: WayBack | None = None) -> str:
    """A page in the shared skeleton (head, stylesheet, the way back, the title as its <h1>).

    `title` is already translated. `script` loads the passkey script: serve such a page
    with SCRIPT_PAGE_SECURITY_HEADERS. Every page but the sign-in page has a `back`.
    """
    return _document(title, body, script=script, back=back)


def _document(title: str, body: str, *, script: bool = False, back: WayBack | None = None) -> str:
    # Every page: the same head, the same stylesheet, the app's name above the card, the
    # way back at the top of the card (where it is on every page), and the title as the
    # one <h1>. The language is the request's, for screen readers' voices and hyphenation.
    tag = f'\n<script src="{SCRIPT_PATH}" defer></script>' if script else ""
    app_name = escape(_APP_NAME.get())
    back_link = ""
    if back is not None:
        back_link = f'<a class="back-link" href="{escape(back.href)}">{escape(back.label)}</a>\n'
    return f"""<!doctype html>
<html lang="{escape(current_language().tag)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · {app_name}</title>
<link rel="stylesheet" href="{STYLESHEET_PATH}">{tag}
</head>
<body>
<header class="brand" translate="no">{app_name}</header>
<main>
{back_link}<h1>{escape(title)}</h1>
{body}
</main>
</body>
</html>
"""
