"""What a session records of the device it signed in from: browser, major version, system.

Shown on the account page so a user can tell their sessions apart ("Safari 17 on iOS");
never used for a decision. A small parser of the common families rather than a library:
ua-parser's full regex set is thousands of patterns for detail (minor versions, phone
models) this page does not show. The raw User-Agent is never stored: only our own names
and at most a few digits of version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Only the head of the header is read: the families are named in the first few hundred
# characters, and a huge header costs nothing to summarise.
MAX_USER_AGENT_INPUT = 512
# How the three parts sit in the session's `device` field ("Chrome|131|Linux").
_SEPARATOR = "|"
_VERSION = re.compile(r"[0-9]{1,4}")

# Order matters: the first token found wins, and most browsers also name the ones they
# derive from (Edge says Chrome and Safari, Chrome says Safari). The third value is the token
# whose number is the browser's version: Safari's own token carries WebKit's build number.
_BROWSERS = (
    ("Edg/", "Edge", "Edg/"),
    ("EdgA/", "Edge", "EdgA/"),
    ("OPR/", "Opera", "OPR/"),
    ("SamsungBrowser/", "Samsung Internet", "SamsungBrowser/"),
    ("Firefox/", "Firefox", "Firefox/"),
    ("FxiOS/", "Firefox", "FxiOS/"),
    ("CriOS/", "Chrome", "CriOS/"),
    ("HeadlessChrome/", "Chrome", "HeadlessChrome/"),
    ("Chromium/", "Chromium", "Chromium/"),
    ("Chrome/", "Chrome", "Chrome/"),
    ("Safari/", "Safari", "Version/"),
    ("curl/", "curl", "curl/"),
    ("python-requests/", "Python requests", "python-requests/"),
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
_BROWSER_NAMES = frozenset(name for _, name, _ in _BROWSERS)
_SYSTEM_NAMES = frozenset(name for _, name in _SYSTEMS)
# What sessions stored before they kept the version: "Chrome on Linux", "curl",
# "Unknown device".
_LEGACY_JOIN = " on "


@dataclass(frozen=True, slots=True)
class Device:
    """A session's device, as far as its User-Agent named it; "" for each part it did not."""

    browser: str = ""
    version: str = ""  # the major version's digits
    system: str = ""

    @property
    def known(self) -> bool:
        """True when the browser or the system was recognised."""
        return bool(self.browser or self.system)

    def stored(self) -> str:
        """The form a session keeps: "Chrome|131|Linux"."""
        return _SEPARATOR.join((self.browser, self.version, self.system))

    def describe(self) -> str:
        """In English, for JSON clients and logs: "Chrome 131 on Linux"."""
        browser = f"{self.browser} {self.version}".strip()
        if browser and self.system:
            return f"{browser}{_LEGACY_JOIN}{self.system}"
        return browser or self.system or "Unknown device"

    @classmethod
    def from_stored(cls, value: str) -> Device:
        """Read a session's `device` field back; only names of ours survive, whatever it holds.

        Sessions from before the version was kept say "Chrome on Linux" (or one name alone).
        """
        if _SEPARATOR in value:
            browser, _, rest = value.partition(_SEPARATOR)
            version, _, system = rest.partition(_SEPARATOR)
        else:
            browser, _, system = value.partition(_LEGACY_JOIN)
            version = ""
            if not system and browser in _SYSTEM_NAMES:
                browser, system = "", browser
        return cls(
            browser=browser if browser in _BROWSER_NAMES else "",
            version=version if browser in _BROWSER_NAMES and _VERSION.fullmatch(version) else "",
            system=system if system in _SYSTEM_NAMES else "",
        )


def parse_user_agent(user_agent: str | None) -> Device:
    """The browser, its major version and the system a User-Agent header names."""
    head = (user_agent or "")[:MAX_USER_AGENT_INPUT]
    browser = version = ""
    for token, name, version_token in _BROWSERS:
        if token in head:
            browser = name
            version = _major_version(head, version_token)
            break
    system = next((name for token, name in _SYSTEMS if token in head), "")
    return Device(browser=browser, version=version, system=system)


def device_summary(user_agent: str | None) -> str:
    """What a new session stores of its User-Agent ("Chrome|131|Linux"); never raw input."""
    return parse_user_agent(user_agent).stored()


def _major_version(head: str, token: str) -> str:
    # Every value returned is digits cut short: nothing else of the header is kept.
    found = re.search(re.escape(token) + r"([0-9]{1,4})", head)
    return found.group(1) if found else ""
