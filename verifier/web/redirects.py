"""The safe `next` rule: only same-site relative paths, anything else falls back to `/`."""

from __future__ import annotations

from urllib.parse import unquote

DEFAULT_NEXT = "/"
MAX_NEXT_LENGTH = 2048
# Paths of the verifier itself: sending the user back to them after login would loop.
_OWN_PREFIX = "/auth/"
# ...except the account pages: they need a session, which the sign-in has just made.
_ACCOUNT_PREFIX = "/auth/account/"
# ...and, on a single sign-on portal, its authorize endpoint: where a sign-in goes on to
# hand the new session to the app host that asked (it redirects only to listed hosts).
_AUTHORIZE_PATH = "/auth/sso/authorize"


def safe_next(candidate: str | None) -> str:
    """Return `candidate` if it is a same-site path, else `/`."""
    if not candidate or len(candidate) > MAX_NEXT_LENGTH:
        return DEFAULT_NEXT
    # It goes into a Location header as given: printable ASCII only (a browser percent-encodes
    # anything else before sending a path, so a real page's URI always passes).
    if not all(0x20 < ord(char) < 0x7F for char in candidate):
        return DEFAULT_NEXT
    # Browsers decode and strip on their own (tabs and newlines vanish, `\` means `/`), and
    # nginx decodes before matching locations, so judge every form either might act on: as
    # given, and percent-decoded (twice, for values encoded once more on the way).
    once = unquote(candidate)
    twice = unquote(once)
    for form in (candidate, once, twice):
        if not _is_same_site_path(form) or _is_own_page(form):
            return DEFAULT_NEXT
    return candidate


def _is_same_site_path(path: str) -> bool:
    if not path.startswith("/"):
        # Relative paths, schemes (`https:`, `javascript:`) and `\\host` all land here.
        return False
    if path.startswith("//") or "\\" in path:
        return False
    # Control characters: browsers drop tabs/newlines from URLs, turning `/\t/evil.example`
    # into `//evil.example`. Decoded spaces and non-ASCII letters are fine.
    return not any(ord(char) < 0x20 or ord(char) == 0x7F for char in path)


def _is_own_page(path: str) -> bool:
    # Sending the user back to the login or logout page after login would loop.
    segments = path.split("?", 1)[0].split("/")
    # No dot segments: `/auth/account/../login` is the login page to a browser and nginx.
    account = path.startswith(_ACCOUNT_PREFIX) or segments == ["", "auth", "account"]
    authorize = path.split("?", 1)[0] == _AUTHORIZE_PATH
    if (account or authorize) and not {".", ".."}.intersection(segments):
        return False
    return path == _OWN_PREFIX.rstrip("/") or path.startswith(_OWN_PREFIX)
