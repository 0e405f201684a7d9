"""How a session is shown, wherever a page lists one: the account page, its confirmations,
and the offer to sign out the others after a second factor is turned on.

Enough to tell sessions apart: the browser and its major version, the system, the address
and the network it is in (where one is known here), when and how the user signed in, and
when the session was last used, as a relative time. Every value came from a client or from
Redis: each is escaped, and marked as data, not text to translate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from verifier.factors.methods import (
    FEDERATED,
    MULTI_FACTOR,
    PASSKEY,
    PASSWORD,
    RECOVERY_CODE,
    TOTP,
    is_multi_factor,
)
from verifier.i18n import N_, _, ago, iso_moment, listed, moment, ngettext
from verifier.pages.common import data, html_format
from verifier.sessions.devices import Device
from verifier.sessions.networks import NetworkKind, NetworkNames
from verifier.sessions.store import SessionDetails

# How each way of signing in reads in "Signed in with"; the passkey's user verification
# (pin) is part of the passkey and not named apart.
_METHODS = {
    PASSWORD: N_("password"),
    TOTP: N_("authenticator app"),
    RECOVERY_CODE: N_("recovery code"),
    PASSKEY: N_("passkey"),
    # TRANSLATORS: signed in at an OpenID Provider (the organisation's single sign-on).
    FEDERATED: N_("identity provider"),
    # TRANSLATORS: the OpenID Provider said its own sign-in took a second factor.
    MULTI_FACTOR: N_("the identity provider's two-step sign-in"),
}
# What stands for a value a session did not record (sessions from before it was kept).
NOT_RECORDED = "—"
# What a reader is told of an address's network, where it is known here.
_NETWORKS = {
    # TRANSLATORS: the network of an address on the server's own machine (loopback): the
    # browser ran there, "127.0.0.1 (this server's own machine)".
    NetworkKind.LOOPBACK: N_("this server's own machine"),
    NetworkKind.PRIVATE: N_("private network"),
}


def device_name(device: str) -> str:
    """A session's device as markup: "Safari 17 on iOS", the names kept as they are."""
    parsed = Device.from_stored(device)
    browser = f"{parsed.browser} {parsed.version}".strip()
    if browser and parsed.system:
        # TRANSLATORS: a device, "Safari 17 on iOS"; the names stay as they are.
        on = _("{browser} on {system}")
        return html_format(on, browser=data(browser), system=data(parsed.system))
    if browser or parsed.system:
        return data(browser or parsed.system)
    return escape(_("Unknown device"))


def device_text(device: str) -> str:
    """The same as plain text, for an attribute (a button's accessible name)."""
    parsed = Device.from_stored(device)
    browser = f"{parsed.browser} {parsed.version}".strip()
    if browser and parsed.system:
        return _("{browser} on {system}").format(browser=browser, system=parsed.system)
    return browser or parsed.system or _("Unknown device")


def address_text(address: str, networks: NetworkNames) -> str:
    """The address and, where known here, its network: "10.8.3.4 (Office VPN)"."""
    if not address:
        return NOT_RECORDED
    label = networks.label(address)
    if label is None:
        return data(address)
    name = data(label.name) if label.kind is NetworkKind.NAMED else escape(_(_NETWORKS[label.kind]))
    return html_format(_("{address} ({network})"), address=data(address), network=name)


def methods_text(amr: Sequence[str]) -> str:
    """How the user signed in, as a list: "password and authenticator app"."""
    named = [_(_METHODS[method]) for method in amr if method in _METHODS]
    return listed(named) if named else NOT_RECORDED


def when(seconds: float) -> str:
    """A moment as a <time> element, to the minute, in the reader's language."""
    return f'<time datetime="{iso_moment(seconds)}">{escape(moment(seconds))}</time>'


def how_long_ago(seconds: float, now: float) -> str:
    """A moment as "5 minutes ago", with the exact moment as its title."""
    return (
        f'<time datetime="{iso_moment(seconds)}" title="{escape(moment(seconds))}">'
        f"{escape(ago(seconds, now))}</time>"
    )


def session_facts(session: SessionDetails, networks: NetworkNames, now: float) -> str:
    """Where, when and how a session signed in, and when it was last used (a <dl>)."""
    facts = [
        (_("Address"), address_text(session.address, networks)),
        (_("Signed in"), when(session.started)),
        (_("Signed in with"), escape(methods_text(session.amr))),
        (_("Last used"), how_long_ago(session.last_used, now)),
    ]
    if session.hosts:
        # Single sign-on: the sites this one sign-in has been handed on to.
        hosts = ", ".join(data(host) for host in session.hosts)
        facts.append((_("Also signed in on"), hosts))
    rows = "\n".join(f"<dt>{escape(term)}</dt><dd>{value}</dd>" for term, value in facts)
    return f'<dl class="facts">\n{rows}\n</dl>'


def password_only(
    sessions: Sequence[SessionDetails], current_session_id: str
) -> list[SessionDetails]:
    """The other sessions that signed in without a second factor (a password alone)."""
    return [
        session
        for session in sessions
        if session.session_id != current_session_id and not is_multi_factor(session.amr)
    ]


def brief_list(sessions: Sequence[SessionDetails], networks: NetworkNames, now: float) -> str:
    """Sessions in a few words each, for a page that says which ones an action ends."""
    items = "\n".join(
        "<li>"
        + html_format(
            # TRANSLATORS: {when} says how long ago: "5 minutes ago", "just now".
            _("{device} at {address}, last used {when}"),
            device=f"<strong>{device_name(s.device)}</strong>",
            address=address_text(s.address, networks),
            when=how_long_ago(s.last_used, now),
        )
        + "</li>"
        for s in sessions
    )
    return f'<ul class="brief">\n{items}\n</ul>'


@dataclass(frozen=True, slots=True)
class OtherSessions:
    """The user's other sessions that signed in with a password alone, and the form that
    ends every other session: offered once a second factor is on (issue 25, point 7)."""

    sessions: Sequence[SessionDetails]
    networks: NetworkNames
    now: float
    end_others_action: str


def other_sessions_offer(others: OtherSessions, *, codes_shown: bool = False) -> str:
    """Which sessions a second factor did not reach, and the button that ends them.

    A second factor guards the sign-ins to come; sessions that began with the password
    alone go on. The page says so and offers to end every other session at once: the list
    and the sentence are the confirmation, so the form posts `confirm=yes`. Nothing when
    there are none.
    """
    count = len(others.sessions)
    if not count:
        return ""
    said = ngettext(
        "This session signed in with a password alone and stays signed in: a second factor "
        "only guards the sign-ins to come. If it is not yours, or you are not sure, end it.",
        "These {count} sessions signed in with a password alone and stay signed in: a second "
        "factor only guards the sign-ins to come. If one is not yours, or you are not sure, "
        "end them.",
        count,
    ).format(count=count)
    codes = ""
    if codes_shown:
        codes = f"<p>{escape(_('Save your recovery codes first: they are not shown again.'))}</p>\n"
    return f"""<section class="offer" aria-labelledby="others-heading">
<h2 id="others-heading">{escape(_("Your other sessions"))}</h2>
<p>{escape(said)}</p>
{brief_list(others.sessions, others.networks, others.now)}
{codes}<form method="post" action="{escape(others.end_others_action)}">
<input type="hidden" name="action" value="end_others">
<input type="hidden" name="confirm" value="yes">
<button type="submit">{escape(_("End all other sessions"))}</button>
</form>
</section>"""
