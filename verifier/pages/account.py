"""The HTML of the account page: live sessions, sign-in methods, the password form; and the
confirmations that ending sessions goes through.

Same skeleton as the other pages (verifier.pages.common): no script, every value escaped (a
session's device and address came from a client), errors in a live region, labels on every
field, forms that stack on a 320 px screen, and every string in the message catalogs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from urllib.parse import quote

from verifier.i18n import _, ngettext
from verifier.pages.common import (
    WayBack,
    cancel_link,
    data,
    document,
    html_format,
    messages,
)
from verifier.pages.sessions import (
    brief_list,
    device_name,
    device_text,
    password_only,
    session_facts,
)
from verifier.sessions.networks import NetworkNames
from verifier.sessions.store import SessionDetails

ACCOUNT_PATH = "/auth/account"


@dataclass(frozen=True, slots=True)
class FactorSection:
    """One sign-in method as the account page lists it, with the page that manages it.

    `title`, `state` and `link_text` are already in the reader's language.
    """

    key: str  # stable, for JSON clients: "totp", "recovery_codes", "passkeys"
    title: str
    state: str  # one short sentence: "On.", "7 left."
    link_text: str
    link_url: str
    # True when this is a second factor the user has on: sessions that signed in without
    # one are then pointed out.
    second_factor: bool = False


@dataclass(frozen=True, slots=True)
class PasswordSection:
    """Where the user's password lives, as the account page says it."""

    # The page offers the form (a local user, or a directory that takes changes here).
    changeable: bool = True
    # Where the password lives when not here: "the directory ldap:corp", "oidc:keycloak".
    where: str = ""
    # Where to change it otherwise (the sources file's password_change_url), if known.
    url: str = ""


LOCAL_PASSWORD = PasswordSection()


def account_url(next_path: str, done: str | None = None) -> str:
    """The account page's address, keeping the way back to the app (and a notice to show)."""
    query = [f"done={quote(done)}"] if done else []
    if next_path != "/":
        query.append("next=" + quote(next_path, safe="/"))
    return ACCOUNT_PATH + ("?" + "&".join(query) if query else "")


def back_to_account(next_path: str = "/") -> WayBack:
    """The way back from every page the account page leads to."""
    return WayBack(account_url(next_path), _("Your account"))


def account_page(
    user: str,
    current_session_id: str,
    sessions: Sequence[SessionDetails],
    factors: Sequence[FactorSection],
    next_path: str,
    error: str | None = None,
    notice: str | None = None,
    *,
    now: float,
    networks: NetworkNames | None = None,
    password: PasswordSection = LOCAL_PASSWORD,
    api_tokens: tuple[int, str] | None = None,
) -> str:
    """The whole account page; `next_path` must already be a safe same-site path.

    `error` and `notice` are catalog messages; `now` is when the page is made (for "last
    used 5 minutes ago"); `api_tokens`: how many live API tokens the user has, and the page
    that manages them.
    """
    # `next` rides in the forms' action, so every answer to a POST knows the way back too.
    action = escape(account_url(next_path))
    second_factor = any(section.second_factor for section in factors)
    signed_in_as = html_format(_("Signed in as {user}."), user=f"<strong>{data(user)}</strong>")
    session_list = _session_list(
        current_session_id,
        sessions,
        action,
        now,
        networks or NetworkNames(),
        second_factor=second_factor,
    )
    return document(
        _("Your account"),
        f"""{messages(error, notice)}
<p>{signed_in_as}</p>
<form class="inline" method="post" action="/auth/logout">
<button type="submit" class="secondary">{escape(_("Sign out"))}</button>
</form>
<h2 id="sessions-heading">{escape(_("Where you are signed in"))}</h2>
{session_list}
<h2 id="factors-heading">{escape(_("Sign-in methods"))}</h2>
{_factor_list(factors)}
{_api_tokens(api_tokens)}
{_password_section(password, action)}""",
        back=WayBack(next_path, _("Back to the app")),
    )


def _password_section(password: PasswordSection, action: str) -> str:
    if not password.changeable:
        where = data(password.where)
        if password.url:
            url = escape(password.url)
            link = f'<a href="{url}" id="password-elsewhere" translate="no">{url}</a>'
            # TRANSLATORS: {where} names a user directory or identity provider ("ldap:corp").
            told = html_format(
                _("Your password is kept by {where}: change it at {link}."), where=where, link=link
            )
        else:
            told = html_format(_("Your password is kept by {where}: change it there."), where=where)
        return f"""<h2 id="password-heading">{escape(_("Password"))}</h2>
<p id="password-place">{told}</p>"""
    kept = ""
    if password.where:
        changes = html_format(
            # TRANSLATORS: {where} names a user directory ("ldap:corp").
            _("This changes your password in {where}."),
            where=data(password.where),
        )
        kept = f'\n<p id="password-place">{changes}</p>'
    return f"""<h2 id="password-heading">{escape(_("Change password"))}</h2>
<p>{escape(_("Changing your password signs you out everywhere else."))}</p>{kept}
<form method="post" action="{action}" aria-labelledby="password-heading">
<input type="hidden" name="action" value="change_password">
<label for="current_password">{escape(_("Current password"))}</label>
<input id="current_password" name="current_password" type="password"
 autocomplete="current-password" required>
<label for="new_password">{escape(_("New password (at least 8 characters)"))}</label>
<input id="new_password" name="new_password" type="password" autocomplete="new-password"
 required minlength="8">
<label for="new_password_again">{escape(_("New password again"))}</label>
<input id="new_password_again" name="new_password_again" type="password"
 autocomplete="new-password" required minlength="8">
<button type="submit">{escape(_("Change password"))}</button>
</form>"""


def _session_list(
    current_session_id: str,
    sessions: Sequence[SessionDetails],
    action: str,
    now: float,
    networks: NetworkNames,
    *,
    second_factor: bool,
) -> str:
    items = []
    # This device first: it is the one the user knows, and the others read against it; then
    # the most recently used.
    ordered = sorted(sessions, key=lambda s: (s.session_id != current_session_id, -s.last_used))
    for session in ordered:
        facts = session_facts(session, networks, now)
        heading = f"<h3>{device_name(session.device)}</h3>"
        if session.session_id == current_session_id:
            badge = f'<span class="badge">{escape(_("This device"))}</span>'
            items.append(
                f'<li class="session this-device">\n<div class="session-head">{heading}'
                f"{badge}</div>\n{facts}\n</li>"
            )
            continue
        label = _("End the session on {device}").format(device=device_text(session.device))
        button = escape(_("End session"))
        items.append(
            f"""<li class="session">
<div class="session-head">{heading}</div>
{facts}
<form method="post" action="{action}">
<input type="hidden" name="action" value="end_session">
<input type="hidden" name="session" value="{escape(session.session_id)}">
<button type="submit" class="secondary" aria-label="{escape(label)}">{button}</button>
</form></li>"""
        )
    note = ""
    unguarded = password_only(sessions, current_session_id)
    if second_factor and unguarded:
        said = ngettext(
            "One other session signed in with a password alone, without your second factor.",
            "{count} other sessions signed in with a password alone, without your second factor.",
            len(unguarded),
        ).format(count=len(unguarded))
        note = f'<p class="warning" id="password-only">{escape(said)}</p>\n'
    end_all = ""
    if len(items) > 1:
        end_all = f"""<form method="post" action="{action}">
<input type="hidden" name="action" value="end_others">
<button type="submit" class="secondary">{escape(_("End all other sessions"))}</button>
</form>"""
    listed = "\n".join(items)
    listing = f'<ul class="sessions" aria-labelledby="sessions-heading">\n{listed}\n</ul>'
    return f"{note}{listing}\n{end_all}"


def _api_tokens(api_tokens: tuple[int, str] | None) -> str:
    if api_tokens is None:
        return ""
    count, link = api_tokens
    if count:
        state = ngettext("{count} active.", "{count} active.", count).format(count=count)
    else:
        state = _("None yet.")
    return f"""<h2 id="api-tokens-heading">{escape(_("API tokens"))}</h2>
<p id="api-tokens">{escape(_("For scripts and services:"))} {escape(state)}
<a href="{escape(link)}">{escape(_("Manage API tokens"))}</a></p>"""


def _factor_list(factors: Sequence[FactorSection]) -> str:
    items = "\n".join(
        f'<li id="factor-{escape(f.key)}">'
        + html_format(
            # TRANSLATORS: a sign-in method on the account page: "Authenticator app: On.
            # Reset or move" ({link} is the link, its words translated on their own).
            _("{method}: {state} {link}"),
            method=f"<strong>{escape(f.title)}</strong>",
            state=escape(f.state),
            link=f'<a href="{escape(f.link_url)}">{escape(f.link_text)}</a>',
        )
        + "</li>"
        for f in factors
    )
    return f'<ul class="factors" aria-labelledby="factors-heading">\n{items}\n</ul>'


def end_session_page(
    session: SessionDetails, action: str, next_path: str, *, now: float, networks: NetworkNames
) -> str:
    """The confirmation of ending one other session: which one, and what happens."""
    happens = _(
        "That device is signed out at once: whoever uses it must sign in again, and anything "
        "not yet saved there may be lost."
    )
    return document(
        _("End this session?"),
        f"""<div class="session confirm-subject">
<div class="session-head"><h2>{device_name(session.device)}</h2></div>
{session_facts(session, networks, now)}
</div>
<p>{escape(happens)}</p>
<form method="post" action="{escape(action)}">
<input type="hidden" name="action" value="end_session">
<input type="hidden" name="session" value="{escape(session.session_id)}">
<input type="hidden" name="confirm" value="yes">
<div class="actions"><button type="submit">{escape(_("End session"))}</button>
{cancel_link(account_url(next_path))}</div>
</form>""",
        back=WayBack(account_url(next_path), _("Your account")),
    )


def end_others_page(
    others: Sequence[SessionDetails],
    action: str,
    next_path: str,
    *,
    now: float,
    networks: NetworkNames,
) -> str:
    """The confirmation of ending every other session: the list, and what happens."""
    count = len(others)
    said = ngettext(
        "This session is signed out at once; this device stays signed in.",
        "These {count} sessions are signed out at once; this device stays signed in.",
        count,
    ).format(count=count)
    return document(
        _("End all other sessions?"),
        f"""<p>{escape(said)}</p>
{brief_list(others, networks, now)}
<form method="post" action="{escape(action)}">
<input type="hidden" name="action" value="end_others">
<input type="hidden" name="confirm" value="yes">
<div class="actions"><button type="submit">{escape(_("End all other sessions"))}</button>
{cancel_link(account_url(next_path))}</div>
</form>""",
        back=WayBack(account_url(next_path), _("Your account")),
    )
