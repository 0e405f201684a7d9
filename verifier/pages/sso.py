"""The pages of single sign-on's hand-off: a refused hand-off, an unknown host.

Neither ever redirects by itself to anything but a path of this same host: a refused
hand-off may restart once, by the answer's `Refresh` header (no script: the pages' CSP
allows none) to this host's own sign-in path, and the page says so with a link.
"""

from __future__ import annotations

from html import escape

from verifier.pages.common import document

HANDOFF_FAILED = "Sign-in could not be completed"
UNKNOWN_HOST = "Unknown site"


def handoff_failed_page(restart_url: str | None, start_url: str) -> str:
    """A refused hand-off: with `restart_url` it restarts once at once, else offers a link."""
    if restart_url is not None:
        body = f"""<p role="status">Signing you in again&hellip;</p>
<p><a href="{escape(restart_url)}">Continue</a></p>"""
    else:
        body = f"""<p role="alert">This sign-in link has expired or was already used, or it
was meant for another browser.</p>
<p><a href="{escape(start_url)}">Sign in again</a></p>"""
    return document(HANDOFF_FAILED, body)


UNKNOWN_HOST_MESSAGE = "Sign-in is not offered for this site. Check the address."


def refused_page(message: str = UNKNOWN_HOST_MESSAGE) -> str:
    """A request the portal or a host refuses: an error, never a redirect anywhere."""
    return document(UNKNOWN_HOST, f'<p role="alert">{escape(message)}</p>')
