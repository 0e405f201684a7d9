"""Writing a page or a JSON answer, and reading a typed code, for the second-factor resources."""

from __future__ import annotations

from typing import Any

import falcon
import falcon.asgi

from verifier.i18n import N_, _
from verifier.pages.common import PAGE_SECURITY_HEADERS, SCRIPT_PAGE_SECURITY_HEADERS
from verifier.resources.body import has_nul

# Longer than any code (a recovery code with dashes and spaces is about 20 characters).
MAX_CODE_INPUT = 64
_TOTP_DIGITS = 6
ENTER_CODE = N_("Enter a code.")
NOT_A_CODE = N_("That is not a code.")


def send_page(resp: falcon.asgi.Response, status: str, html: str, *, script: bool = False) -> None:
    """Answer with one of our pages, with the pages' CSP and anti-framing headers.

    `script`: the page loads the passkey script, which its CSP then allows.
    """
    resp.status = status
    resp.set_headers(SCRIPT_PAGE_SECURITY_HEADERS if script else PAGE_SECURITY_HEADERS)
    resp.content_type = falcon.MEDIA_HTML
    resp.text = html


def send_json(resp: falcon.asgi.Response, status: str, media: dict[str, Any]) -> None:
    """Answer an API client; never cached. Its `error`, a catalog message, is translated
    (the request's language): the one place every JSON error message passes."""
    resp.status = status
    resp.cache_control = ["no-store"]
    error = media.get("error")
    resp.media = {**media, "error": _(error)} if isinstance(error, str) else media


def code_problem(*typed: str) -> str | None:
    """A message for code input that can never be right, else None."""
    if not any(value.strip() for value in typed):
        return ENTER_CODE
    if any(len(value) > MAX_CODE_INPUT for value in typed) or has_nul(*typed):
        return NOT_A_CODE
    return None


def split_current_code(typed: str) -> tuple[str, str]:
    """One field that takes either: (TOTP code, "") for six digits, else ("", recovery code)."""
    compact = typed.strip().replace(" ", "")
    if len(compact) == _TOTP_DIGITS and compact.isascii() and compact.isdigit():
        return compact, ""
    return "", typed
