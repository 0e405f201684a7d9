"""Cookie names and attributes, in one place for login, silent refresh and logout."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass

from verifier.records import record

# Values we mint are base64url and dots only; anything else is not ours.
_SAFE_VALUE = re.compile(r"[A-Za-z0-9\-_.@+]+")
# A Cookie header larger than this is not a browser of ours talking (nginx allows 8 KB lines).
MAX_COOKIE_HEADER_LENGTH = 16_384
# Every page of the verifier lives under /auth/ (nginx's verifier-locations.conf).
PENDING_COOKIE_PATH = "/auth/"


@dataclass(frozen=True)
class CookiePolicy:
    """Builds Set-Cookie values: HttpOnly, SameSite=Lax, Path=/, never Domain."""

    secure: bool

    @property
    def access_name(self) -> str:
        """Name of the access-token cookie."""
        # __Host- makes the browser refuse the cookie unless Secure, Path=/ and no Domain:
        # a sibling subdomain cannot plant or shadow it.
        return "__Host-verifier-access" if self.secure else "verifier-access"

    @property
    def refresh_name(self) -> str:
        """Name of the refresh-token cookie."""
        return "__Host-verifier-refresh" if self.secure else "verifier-refresh"

    def set_access(self, token: str, max_age_seconds: int) -> str:
        """Set-Cookie value carrying an access token."""
        return self._format(self.access_name, token, max_age_seconds)

    def set_refresh(self, token: str, max_age_seconds: int) -> str:
        """Set-Cookie value carrying a refresh token."""
        return self._format(self.refresh_name, token, max_age_seconds)

    def clear_access(self) -> str:
        """Set-Cookie value deleting the access cookie."""
        return self._format(self.access_name, "", 0)

    def clear_refresh(self) -> str:
        """Set-Cookie value deleting the refresh cookie."""
        return self._format(self.refresh_name, "", 0)

    @property
    def pending_name(self) -> str:
        """Name of the cookie holding a sign-in that waits for its second factor."""
        # Not __Host-: that prefix demands Path=/, and this cookie must stay under /auth/.
        return "__Secure-verifier-pending" if self.secure else "verifier-pending"

    def set_pending(self, pending_id: str, max_age_seconds: int) -> str:
        """Set-Cookie value carrying a pending sign-in's id."""
        return self._format_pending(pending_id, max_age_seconds)

    def clear_pending(self) -> str:
        """Set-Cookie value deleting the pending sign-in cookie."""
        return self._format_pending("", 0)

    @property
    def passkey_name(self) -> str:
        """Name of the cookie binding a passwordless passkey sign-in to this browser."""
        return "__Secure-verifier-passkey" if self.secure else "verifier-passkey"

    def set_passkey(self, binding: str, max_age_seconds: int) -> str:
        """Set-Cookie value carrying a passwordless sign-in's challenge binding."""
        return self._format_pending(binding, max_age_seconds, self.passkey_name)

    def clear_passkey(self) -> str:
        """Set-Cookie value deleting the passwordless sign-in cookie."""
        return self._format_pending("", 0, self.passkey_name)

    @property
    def sso_state_name(self) -> str:
        """Name of the cookie an app host keeps a single sign-on hand-off's state value in."""
        # __Host- (Secure, Path=/, no Domain): no sibling host can plant or shadow it.
        return "__Host-verifier-sso-state" if self.secure else "verifier-sso-state"

    def set_sso_state(self, value: str, max_age_seconds: int) -> str:
        """Set-Cookie value carrying a hand-off's state value (single sign-on)."""
        # SameSite=Lax, not Strict: the callback that reads it ends a redirect chain that
        # started on the portal, another site, and a Strict cookie is not sent there.
        return self._format(self.sso_state_name, value, max_age_seconds)

    def clear_sso_state(self) -> str:
        """Set-Cookie value deleting the hand-off's state cookie."""
        return self._format(self.sso_state_name, "", 0)

    @property
    def oidc_flow_name(self) -> str:
        """Name of the cookie binding a sign-in at an OpenID Provider to this browser."""
        # __Host- (Secure, Path=/, no Domain): no sibling host can plant or shadow it.
        return "__Host-verifier-oidc" if self.secure else "verifier-oidc"

    def set_oidc_flow(self, binding: str, max_age_seconds: int) -> str:
        """Set-Cookie value carrying an OpenID sign-in's browser binding."""
        # SameSite=Lax: the callback that reads it is a top-level GET the provider's page
        # redirects to, and a Strict cookie is not sent at the end of that chain.
        return self._format(self.oidc_flow_name, binding, max_age_seconds)

    def clear_oidc_flow(self) -> str:
        """Set-Cookie value deleting the OpenID sign-in's binding cookie."""
        return self._format(self.oidc_flow_name, "", 0)

    def _format_pending(self, value: str, max_age_seconds: int, name: str = "") -> str:
        # Only the verifier's own pages see it (the app and /auth never need it), and
        # SameSite=Strict: no other site can start a request that carries it.
        parts = [
            f"{name or self.pending_name}={value}",
            f"Path={PENDING_COOKIE_PATH}",
            f"Max-Age={max(0, max_age_seconds)}",
        ]
        if self.secure:
            parts.append("Secure")
        parts += ["HttpOnly", "SameSite=Strict"]
        return "; ".join(parts)

    def _format(self, name: str, value: str, max_age_seconds: int) -> str:
        parts = [f"{name}={value}", "Path=/", f"Max-Age={max(0, max_age_seconds)}"]
        if self.secure:
            parts.append("Secure")
        parts += ["HttpOnly", "SameSite=Lax"]
        return "; ".join(parts)


@record
class TokenCookies:
    """The two token values a request carried (either may be missing)."""

    access: str | None
    refresh: str | None


def read_token_cookies(cookie_header: str | None, policy: CookiePolicy) -> TokenCookies:
    """Extract our two cookies from a raw Cookie header, ignoring everything malformed."""
    if not cookie_header or len(cookie_header) > MAX_COOKIE_HEADER_LENGTH:
        return TokenCookies(access=None, refresh=None)
    values = _parse_cookie_header(cookie_header)
    return TokenCookies(
        access=_clean(values.get(policy.access_name)),
        refresh=_clean(values.get(policy.refresh_name)),
    )


@record
class CookieView:
    """What /auth reads of one Cookie header: our two tokens, and the header the app gets
    (without our cookies)."""

    tokens: TokenCookies
    for_app: str


class CookieReader:
    """Reads the Cookie header of each /auth check, parsing each exact header once.

    A browser sends the same header on every request until a cookie changes, and /auth
    parsed it twice per check (our tokens, then the rest for the app): the largest cost of
    the check's own Python once the verified token is cached. The parse is a pure function
    of the header, so its result is remembered per exact header, for the `remembered` most
    recent ones; a header over MAX_COOKIE_HEADER_LENGTH is parsed every time and never
    remembered, so the cache holds at most `remembered` x 16 KB.
    """

    __slots__ = ("_policy", "_remembered")

    def __init__(self, policy: CookiePolicy, remembered: int = 1024) -> None:
        self._policy = policy
        self._remembered = functools.lru_cache(maxsize=remembered)(self._parse)

    def read(self, cookie_header: str | None) -> CookieView:
        """Our tokens and the app's Cookie header, as read_token_cookies and
        without_token_cookies give them."""
        if cookie_header is None or len(cookie_header) > MAX_COOKIE_HEADER_LENGTH:
            return self._parse(cookie_header)
        return self._remembered(cookie_header)

    def _parse(self, cookie_header: str | None) -> CookieView:
        return CookieView(
            read_token_cookies(cookie_header, self._policy),
            without_token_cookies(cookie_header, self._policy),
        )


def read_pending_cookie(cookie_header: str | None, policy: CookiePolicy) -> str | None:
    """The pending sign-in id a raw Cookie header carries, or None (missing or malformed)."""
    if not cookie_header or len(cookie_header) > MAX_COOKIE_HEADER_LENGTH:
        return None
    return _clean(_parse_cookie_header(cookie_header).get(policy.pending_name))


def read_passkey_cookie(cookie_header: str | None, policy: CookiePolicy) -> str | None:
    """The passwordless sign-in binding a raw Cookie header carries, or None."""
    if not cookie_header or len(cookie_header) > MAX_COOKIE_HEADER_LENGTH:
        return None
    return _clean(_parse_cookie_header(cookie_header).get(policy.passkey_name))


def read_sso_state_cookie(cookie_header: str | None, policy: CookiePolicy) -> str | None:
    """The single sign-on hand-off's state value a raw Cookie header carries, or None."""
    if not cookie_header or len(cookie_header) > MAX_COOKIE_HEADER_LENGTH:
        return None
    return _clean(_parse_cookie_header(cookie_header).get(policy.sso_state_name))


def read_oidc_flow_cookie(cookie_header: str | None, policy: CookiePolicy) -> str | None:
    """The OpenID sign-in binding a raw Cookie header carries, or None."""
    if not cookie_header or len(cookie_header) > MAX_COOKIE_HEADER_LENGTH:
        return None
    return _clean(_parse_cookie_header(cookie_header).get(policy.oidc_flow_name))


def without_token_cookies(cookie_header: str | None, policy: CookiePolicy) -> str:
    """The Cookie header minus our cookies (the two tokens, a hand-off's state, an OpenID
    sign-in's binding): what the app behind nginx may see."""
    if not cookie_header:
        return ""
    names = {
        policy.access_name,
        policy.refresh_name,
        policy.sso_state_name,
        policy.oidc_flow_name,
    }
    kept = [
        pair.strip()
        for pair in cookie_header.split(";")
        if pair.strip() and pair.strip().partition("=")[0] not in names
    ]
    return "; ".join(kept)


def _parse_cookie_header(cookie_header: str) -> Mapping[str, str]:
    # Split by hand rather than SimpleCookie: one bad pair must not hide the good ones,
    # and a duplicated name (a cookie planted for a parent path or domain) is ambiguous,
    # so it counts as absent instead of "first wins" or "last wins".
    found: dict[str, str] = {}
    duplicated: set[str] = set()
    for pair in cookie_header.split(";"):
        name, sep, value = pair.strip().partition("=")
        if not sep or not name:
            continue
        if name in found:
            duplicated.add(name)
        found[name] = value.strip()
    for name in duplicated:
        del found[name]
    return found


def _clean(value: str | None) -> str | None:
    # A compiled pattern: on the hot path, about 4x cheaper than comparing character sets.
    if not value or _SAFE_VALUE.fullmatch(value) is None:
        return None
    return value
