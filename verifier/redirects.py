"""The safe `next` rule: only same-site relative paths, anything else falls back to `/`."""

from __future__ import annotations

from urllib.parse import unquote

DEFAULT_NEXT = "/"
MAX_NEXT_LENGTH = 2048
# Paths of the verifier itself: sending the user back to them after login would loop.
_OWN_PREFIX = "/auth/"


def safe_next(candidate: str | None) -> str:
    """Return `candidate` if it is a same-site path, else `/`."""
    if not candidate or len(candidate) > MAX_NEXT_LENGTH:
        return DEFAULT_NEXT
    # Browsers decode and strip on their own (tabs and newlines vanish, `\` means `/`),
    # so judge every form a browser might act on: as given, and percent-decoded (twice,
    # for values that were encoded once more on the way through a query string).
    once = unquote(candidate)
    twice = unquote(once)
    for form in (candidate, once, twice):
        if not _is_same_site_path(form):
            return DEFAULT_NEXT
    if candidate.startswith(_OWN_PREFIX) or candidate == _OWN_PREFIX.rstrip("/"):
        return DEFAULT_NEXT
    return candidate


def _is_same_site_path(path: str) -> bool:
    if not path.startswith("/"):
        # Relative paths, schemes (`https:`, `javascript:`) and `\\host` all land here.
        return False
    if path.startswith("//"):
        return False
    if "\\" in path:
        return False
    # Printable ASCII only. Browsers drop tabs/newlines from URLs, turning `/\t/evil.example`
    # into `//evil.example`; CR/LF would split the Location header, which must be ASCII anyway
    # (a browser percent-encodes any other character before it sends a path).
    return all(0x20 < ord(char) < 0x7F for char in path)
