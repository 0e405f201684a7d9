"""The pages of single sign-on's hand-off: a refused hand-off, an unknown host, a page that
is not on this host.

None ever redirects by itself to anything but a path of this same host: a refused
hand-off may restart once, by the answer's `Refresh` header (no script: the pages' CSP
allows none) to this host's own sign-in path, and the page says so with a link. Like every
page but the sign-in page, each has a way back: the sign-in again, the app, the account,
or (from a host that is not ours) the portal.
"""

from __future__ import annotations

from html import escape

from verifier.i18n import N_, _
from verifier.pages.common import WayBack, document, html_format

HANDOFF_FAILED = N_("Sign-in could not be completed")
UNKNOWN_HOST = N_("Unknown site")
UNKNOWN_HOST_MESSAGE = N_("Sign-in is not offered for this site. Check the address.")
NOT_HERE_TITLE = N_("Not available on this site")
# TRANSLATORS: {portal} is the portal's address, "https://login.example.com".
NOT_HERE = N_("Sign-in happens on the portal: {portal}")
# The ways back (catalog messages, translated by the pages): the app, the account, and,
# from a host the portal does not serve, the portal itself, the one place known to be ours.
BACK_TO_APP = N_("Back to the app")
YOUR_ACCOUNT = N_("Your account")
TO_PORTAL = N_("Go to the sign-in portal")


def handoff_failed_page(restart_url: str | None, start_url: str) -> str:
    """A refused hand-off: with `restart_url` it restarts once at once, else offers a link.

    Either link is the page's way on (`continue`): both lead to this host's own sign-in.
    """
    if restart_url is not None:
        body = f"""<p role="status">{escape(_("Signing you in again…"))}</p>
<p>{_continue(restart_url, _("Continue"))}</p>"""
    else:
        expired = _(
            "This sign-in link has expired or was already used, or it was meant for another "
            "browser."
        )
        body = f"""<p role="alert">{escape(expired)}</p>
<p>{_continue(start_url, _("Sign in again"))}</p>"""
    return document(_(HANDOFF_FAILED), body)


def refused_page(back: WayBack, message: str = UNKNOWN_HOST_MESSAGE) -> str:
    """A request the portal or a host refuses: an error, never a redirect anywhere.

    `message` is a catalog message; `back.label` one too (both translated here).
    """
    return document(
        _(UNKNOWN_HOST),
        f'<p role="alert">{escape(_(message))}</p>',
        back=WayBack(back.href, _(back.label)),
    )


def not_here_page(portal_origin: str, back: WayBack) -> str:
    """A page this host does not serve (sign-in forms live on the portal): says where."""
    portal = f'<a href="{escape(portal_origin)}" translate="no">{escape(portal_origin)}</a>'
    sentence = html_format(_(NOT_HERE), portal=portal)
    return document(
        _(NOT_HERE_TITLE),
        f'<p role="alert">{sentence}</p>',
        back=WayBack(back.href, _(back.label)),
    )


def _continue(href: str, label: str) -> str:
    return f'<a class="button-link continue" href="{escape(href)}">{escape(label)}</a>'
