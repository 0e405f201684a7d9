"""The pages of single sign-on's hand-off: a refused hand-off, an unknown host.

Neither ever redirects by itself to anything but a path of this same host: a refused
hand-off may restart once, by the answer's `Refresh` header (no script: the pages' CSP
allows none) to this host's own sign-in path, and the page says so with a link.
"""

from __future__ import annotations

from html import escape

from verifier.i18n import N_, _
from verifier.pages.common import document

HANDOFF_FAILED = N_("Sign-in could not be completed")
UNKNOWN_HOST = N_("Unknown site")


def handoff_failed_page(restart_url: str | None, start_url: str) -> str:
    """A refused hand-off: with `restart_url` it restarts once at once, else offers a link."""
    if restart_url is not None:
        body = f"""<p role="status">{escape(_("Signing you in again…"))}</p>
<p><a href="{escape(restart_url)}">{escape(_("Continue"))}</a></p>"""
    else:
        expired = _(
            "This sign-in link has expired or was already used, or it was meant for another "
            "browser."
        )
        body = f"""<p role="alert">{escape(expired)}</p>
<p><a href="{escape(start_url)}">{escape(_("Sign in again"))}</a></p>"""
    return document(_(HANDOFF_FAILED), body)


UNKNOWN_HOST_MESSAGE = N_("Sign-in is not offered for this site. Check the address.")


def refused_page(message: str = UNKNOWN_HOST_MESSAGE) -> str:
    """A request the portal or a host refuses: an error, never a redirect anywhere.

    `message` is a catalog message, or one already in the reader's language.
    """
    return document(_(UNKNOWN_HOST), f'<p role="alert">{escape(_(message))}</p>')
