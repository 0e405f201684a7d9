"""A short, safe name for the device a session signed in from ("Chrome on Linux").

Shown on the account page so a user can tell their sessions apart; never used for a decision.
A small parser of the common families rather than a library: ua-parser's full regex set is
thousands of patterns for detail (versions, phone models) this page does not show.
"""

from __future__ import annotations

# Only the head of the header is read: the families are named in the first few hundred
# characters, and a huge header costs nothing to summarise.
MAX_USER_AGENT_INPUT = 512
UNKNOWN_DEVICE = "Unknown device"

# Order matters: the first token found wins, and most browsers also name the ones they
# derive from (Edge says Chrome and Safari, Chrome says Safari).
_BROWSERS = (
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("HeadlessChrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
    ("python-requests/", "Python requests"),
)
_SYSTEMS = (
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Macintosh", "macOS"),
    ("Linux", "Linux"),
)


def device_summary(user_agent: str | None) -> str:
    """'<browser> on <system>' from a User-Agent header, or a fixed fallback; never raw input."""
    head = (user_agent or "")[:MAX_USER_AGENT_INPUT]
    browser = _first(head, _BROWSERS)
    system = _first(head, _SYSTEMS)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or UNKNOWN_DEVICE


def _first(text: str, families: tuple[tuple[str, str], ...]) -> str | None:
    # Every value returned is one of our own constants: nothing from the header is echoed.
    for token, name in families:
        if token in text:
            return name
    return None
