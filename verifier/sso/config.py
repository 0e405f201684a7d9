"""The sign-in portal and the app hosts it hands sessions to: parsed once, judged exactly.

A host name here is compared, never normalized: a listed name is lower-case ASCII, and a
request's `host` either equals one byte for byte or is refused. What a browser or a URL
parser would turn into a listed name (upper case, a trailing dot, `%2e`, full-width dots,
IDNA, userinfo, a port) is refused rather than repaired, so no spelling of an unlisted host
can ever reach a redirect.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import quote

from verifier.errors import SettingsError

# One DNS label as browsers accept it in a host name: letters, digits, inner hyphens.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_ONE_LABEL = re.compile(_LABEL)
MAX_HOST_LENGTH = 253
WILDCARD_PREFIX = "*."
# Where a portal hands the browser back on an app host (never behind auth_request).
CALLBACK_PATH = "/auth/sso/callback"
# The portal's endpoint an app host sends a signed-out browser to.
AUTHORIZE_PATH = "/auth/sso/authorize"
# Plain http is allowed for these names only: browsers treat them as secure contexts (and
# accept __Host- cookies there), so a local demo or test behaves as production does.
_LOCAL_SUFFIX = ".localhost"


def host_name_problem(name: str) -> str | None:
    """Why `name` cannot be a listed host (a sentence), or None when it can."""
    shown = repr(name[:64])
    # In order: the first that applies says what to fix.
    checks = (
        (not name, "an empty host name"),
        (
            not name.isascii(),
            f"{shown} is not ASCII: write an internationalized name in its xn-- form",
        ),
        (
            name != name.lower(),
            f"{shown} has upper-case letters: host names are listed in lower case",
        ),
        (name.endswith("."), f"{shown} ends with a dot: list the name without it"),
        (
            ":" in name or name.startswith("["),
            f"{shown} has a port or is an IPv6 address: list the bare host name",
        ),
        (name.isascii() and _is_ip_address(name), f"{shown} is an IP address: list host names"),
        (
            len(name) > MAX_HOST_LENGTH or _HOST_NAME.fullmatch(name) is None,
            f"{shown} is not a host name (letters, digits, '-' and '.' only)",
        ),
    )
    return next((message for failed, message in checks if failed), None)


def _is_ip_address(name: str) -> bool:
    # A name whose last label is all digits is read as an IPv4 address by browsers (WHATWG
    # URL: "127.1", "0x7f.1"), whatever Python's stricter parser says.
    try:
        ipaddress.ip_address(name)
    except ValueError:
        last = name.rsplit(".", 1)[-1]
        return last.isdigit() or (last.startswith("0x") and _is_hex(last[2:]))
    return True


def _is_hex(text: str) -> bool:
    return all(char in "0123456789abcdef" for char in text)


@dataclass(frozen=True)
class PortalUrl:
    """Where the portal is: scheme, host and (for a local set-up) a port, nothing else."""

    scheme: str
    host: str
    port: int | None = None

    def origin_of(self, host: str) -> str:
        """The origin of `host` served like the portal (same scheme, same port)."""
        port = "" if self.port is None else f":{self.port}"
        return f"{self.scheme}://{host}{port}"

    @property
    def origin(self) -> str:
        """The portal's own origin, e.g. https://auth.corp.example."""
        return self.origin_of(self.host)


def parse_portal_url(text: str) -> PortalUrl:
    """`https://HOST[:PORT]` (http only for *.localhost); raise SettingsError otherwise."""
    raw = text.strip()
    scheme, separator, rest = raw.partition("://")
    if not separator or scheme not in {"https", "http"}:
        raise SettingsError(f"{raw[:80]!r} must start with https://")
    rest = rest.removesuffix("/")
    if not rest or any(char in rest for char in "/?#@\\"):
        raise SettingsError(
            f"{raw[:80]!r} must be https://HOST (no path, query, user name or backslash)"
        )
    host, colon, port_text = rest.partition(":")
    problem = host_name_problem(host)
    if problem is not None:
        raise SettingsError(problem)
    port: int | None = None
    if colon:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise SettingsError(f"{raw[:80]!r}: the port must be a number from 1 to 65535")
        port = int(port_text)
    if scheme == "http" and not is_local_name(host):
        raise SettingsError(
            f"{raw[:80]!r}: plain http is for *.localhost only (__Host- cookies need https)"
        )
    return PortalUrl(scheme=scheme, host=host, port=port)


def is_local_name(host: str) -> bool:
    """True for `localhost` and names under it, which browsers resolve to loopback."""
    return host == "localhost" or host.endswith(_LOCAL_SUFFIX)


@dataclass(frozen=True)
class HostList:
    """The app hosts the portal serves: exact names, and (opted in) one-label wildcards."""

    names: frozenset[str]
    # Parents of `*.PARENT` entries: a wildcard matches one more label, never PARENT itself.
    wildcard_parents: tuple[str, ...] = ()

    def listed(self, candidate: str) -> str | None:
        """The listed spelling of `candidate` if it is served, else None.

        An exact entry answers with the configured string itself, so a URL built from the
        answer is built from configuration. A wildcard answers with the candidate, which
        has then been checked label by label against the one shape a host name may have.
        """
        for name in self.names:
            if name == candidate:
                return name
        for parent in self.wildcard_parents:
            first, dot, rest = candidate.partition(".")
            if dot and rest == parent and _ONE_LABEL.fullmatch(first):
                return candidate
        return None

    def __bool__(self) -> bool:
        return bool(self.names or self.wildcard_parents)


def parse_host_list(text: str, *, allow_wildcard: bool) -> HostList:
    """Comma- or space-separated host names; raise SettingsError naming the first bad one."""
    names: list[str] = []
    parents: list[str] = []
    for entry in re.split(r"[,\s]+", text.strip()):
        if not entry:
            continue
        if entry.startswith(WILDCARD_PREFIX):
            parent = entry[len(WILDCARD_PREFIX) :]
            if not allow_wildcard:
                raise SettingsError(
                    f"{entry[:64]!r} is a wildcard: set VERIFIER_SSO_ALLOW_WILDCARD=true to "
                    "serve every name under it (list exact names when you can)"
                )
            problem = host_name_problem(parent)
            if problem is not None:
                raise SettingsError(f"in {entry[:64]!r}: {problem}")
            if parent.count(".") < 1:
                raise SettingsError(
                    f"{entry[:64]!r} covers a whole top-level domain: a wildcard needs a "
                    "parent of at least two labels (*.corp.example)"
                )
            parents.append(parent)
            continue
        problem = host_name_problem(entry)
        if problem is not None:
            raise SettingsError(problem)
        names.append(entry)
    return HostList(names=frozenset(names), wildcard_parents=tuple(dict.fromkeys(parents)))


@dataclass(frozen=True)
class SsoConfig:
    """The portal and its hosts: one sign-in, each host its own session."""

    portal: PortalUrl
    hosts: HostList

    @property
    def portal_host(self) -> str:
        """The portal's host name: where every sign-in happens."""
        return self.portal.host

    def app_host(self, candidate: str) -> str | None:
        """The listed spelling of an app host (never the portal), or None."""
        if candidate == self.portal.host:
            return None  # a wildcard never covers the portal: its cookies are its own
        return self.hosts.listed(candidate)

    def authorize_url(self, host: str, challenge: str, query: str = "") -> str:
        """The portal's authorize URL for a listed host (`query`: more parameters)."""
        more = "&" + query if query else ""
        return (
            f"{self.portal.origin}{AUTHORIZE_PATH}?host={quote(host, safe='')}"
            f"&challenge={challenge}{more}"
        )

    def callback_url(self, host: str, code: str) -> str:
        """Where the portal sends the browser with a code: built from configuration."""
        return f"{self.portal.origin_of(host)}{CALLBACK_PATH}?code={code}"

    def portal_page(self, path: str) -> str:
        """An absolute URL of a page of the portal (a path of ours, e.g. /auth/account)."""
        return self.portal.origin + path
