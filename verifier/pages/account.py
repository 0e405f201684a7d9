"""The HTML of the account page: live sessions, sign-in methods, the password form.

Same skeleton as the other pages (verifier.pages.common): no script, every value escaped (a
session's device and address came from a client), errors in a live region, labels on every
field, and forms that stack on a 320 px screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from urllib.parse import quote

from verifier.pages.common import document
from verifier.pages.factors import _messages
from verifier.sessions.store import SessionDetails

ACCOUNT_PATH = "/auth/account"


@dataclass(frozen=True, slots=True)
class FactorSection:
    """One sign-in method as the account page lists it, with the page that manages it."""

    key: str  # stable, for JSON clients: "totp", "recovery_codes", "passkeys"
    title: str
    state: str  # one short sentence: "On.", "7 left."
    link_text: str
    link_url: str


def shown_time(seconds: float) -> str:
    """A moment as the page shows it: minutes, in UTC (the page runs no script to localise)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")


def account_url(next_path: str, done: str | None = None) -> str:
    """The account page's address, keeping the way back to the app (and a notice to show)."""
    query = [f"done={quote(done)}"] if done else []
    if next_path != "/":
        query.append("next=" + quote(next_path, safe="/"))
    return ACCOUNT_PATH + ("?" + "&".join(query) if query else "")


def account_page(
    user: str,
    current_session_id: str,
    sessions: Sequence[SessionDetails],
    factors: Sequence[FactorSection],
    next_path: str,
    error: str | None = None,
    notice: str | None = None,
    api_tokens: tuple[int, str] | None = None,
) -> str:
    """The whole account page; `next_path` must already be a safe same-site path.

    `api_tokens`: how many live API tokens the user has, and the page that manages them.
    """
    # `next` rides in the forms' action, so every answer to a POST knows the way back too.
    action = escape(account_url(next_path))
    return document(
        "Your account",
        f"""{_messages(error, notice)}
<p>Signed in as <strong>{escape(user)}</strong>.
<a href="{escape(next_path)}" id="back-to-app">Back to the app</a></p>
<form class="inline" method="post" action="/auth/logout">
<button type="submit">Sign out</button>
</form>
<h2 id="sessions-heading">Where you are signed in</h2>
{_session_list(current_session_id, sessions, action)}
<h2 id="factors-heading">Sign-in methods</h2>
{_factor_list(factors)}
{_api_tokens(api_tokens)}
<h2 id="password-heading">Change password</h2>
<p>Changing your password signs you out everywhere else.</p>
<form method="post" action="{action}" aria-labelledby="password-heading">
<input type="hidden" name="action" value="change_password">
<label for="current_password">Current password</label>
<input id="current_password" name="current_password" type="password"
 autocomplete="current-password" required>
<label for="new_password">New password (at least 8 characters)</label>
<input id="new_password" name="new_password" type="password" autocomplete="new-password"
 required minlength="8">
<label for="new_password_again">New password again</label>
<input id="new_password_again" name="new_password_again" type="password"
 autocomplete="new-password" required minlength="8">
<button type="submit">Change password</button>
</form>""",
    )


def _session_list(current_session_id: str, sessions: Sequence[SessionDetails], action: str) -> str:
    items = []
    others = 0
    # This device first: it is the one the user knows, and the others read against it.
    for session in sorted(sessions, key=lambda s: s.session_id != current_session_id):
        device = escape(session.device or "Unknown device")
        details = (
            f"<strong>{device}</strong>"
            f"<br>From {escape(session.address or 'an unknown address')}"
            f"<br>Signed in {shown_time(session.started)}"
            f"<br>Last used {shown_time(session.last_used)}"
        )
        if session.hosts:
            # Single sign-on: where this one sign-in has been handed on to.
            details += "<br>Also on " + ", ".join(escape(host) for host in session.hosts)
        if session.session_id == current_session_id:
            items.append(f'<li class="this-device">{details}<br><em>This device</em></li>')
            continue
        others += 1
        items.append(
            f"""<li>{details}
<form method="post" action="{action}">
<input type="hidden" name="action" value="end_session">
<input type="hidden" name="session" value="{escape(session.session_id)}">
<button type="submit" aria-label="End the session on {device}">End</button>
</form></li>"""
        )
    end_all = ""
    if others:
        end_all = f"""<form method="post" action="{action}">
<input type="hidden" name="action" value="end_others">
<button type="submit">End all other sessions</button>
</form>"""
    listed = "\n".join(items)
    return f'<ul class="sessions" aria-labelledby="sessions-heading">\n{listed}\n</ul>\n{end_all}'


def _api_tokens(api_tokens: tuple[int, str] | None) -> str:
    if api_tokens is None:
        return ""
    count, link = api_tokens
    state = f"{count} active." if count else "None yet."
    return f"""<h2 id="api-tokens-heading">API tokens</h2>
<p id="api-tokens">For scripts and services: {state}
<a href="{escape(link)}">Manage API tokens</a></p>"""


def _factor_list(factors: Sequence[FactorSection]) -> str:
    items = "\n".join(
        f'<li id="factor-{escape(f.key)}"><strong>{escape(f.title)}</strong>: '
        f'{escape(f.state)} <a href="{escape(f.link_url)}">{escape(f.link_text)}</a></li>'
        for f in factors
    )
    return f'<ul class="factors" aria-labelledby="factors-heading">\n{items}\n</ul>'
