"""What every login source has in common: who it vouches for, and how it says no.

A source is chosen once at start-up from the sources file (verifier.users.sources.registry):
the verifier's own store (`local`), an LDAP directory (`ldap:ID`) or an OpenID Provider
(`oidc:ID`). Whatever the source, a sign-in ends in one of our ordinary sessions; the
session remembers the source (`UpstreamLink`) so that its silent refresh can ask again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from verifier.errors import VerifierError
from verifier.upstream.config import RecheckPolicy


@dataclass(frozen=True)
class VouchedUser:
    """A user a source vouches for: our name for them, and what the source says of them."""

    source: str
    # Our user name (already checked against our rules).
    name: str
    # The source's immutable id for them: LDAP entryUUID / objectGUID, OpenID `sub`; "" local.
    upstream_id: str = ""
    # Our groups from the source's (mapped by the sources file); () for a local user.
    groups: tuple[str, ...] = ()
    # Upstream groups whose names could not become ours (logged, never guessed).
    dropped_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class UpstreamLink:
    """What a session keeps of the upstream sign-in that started it; in Redis only.

    The tokens are never put in a cookie, a log line or a header to the app.
    """

    source: str
    upstream_id: str
    # When the source last vouched for the user (epoch seconds).
    checked_at: float
    # The provider's session id (`sid`), for its back-channel logout tokens.
    upstream_sid: str = ""
    refresh_token: str = field(default="", repr=False)
    access_token: str = field(default="", repr=False)
    # For RP-initiated logout's id_token_hint.
    id_token: str = field(default="", repr=False)


@dataclass(frozen=True)
class Rechecked:
    """A re-check that found the user: their groups now (ours, mapped), and the link to keep
    (a provider may have rotated the tokens)."""

    groups: tuple[str, ...]
    link: UpstreamLink


class SourceUnavailable(VerifierError):
    """The source could not be asked (down, timed out, answered nonsense); `reason` says how."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source} unavailable: {reason}")
        self.source = source
        self.reason = reason


class UserGone(VerifierError):
    """The source no longer vouches for a user (deleted, disabled, grant revoked)."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class PasswordChangeRefused(VerifierError):
    """The source refused a new password (its policy, or it allows no change here).

    `why` says which, for a page to word it in its reader's language: `policy` (the
    source's password policy refused it), `not_here` (the source takes no changes from
    the verifier), `elsewhere` (the user signs in through a provider); `where` names the
    source as the pages call it.
    """

    def __init__(self, why: str, where: str, message: str) -> None:
        super().__init__(message)
        self.why = why
        self.where = where


class RecheckingSource(Protocol):
    """A source whose users' sessions are re-checked at their silent refresh."""

    @property
    def name(self) -> str:
        """`ldap:ID` or `oidc:ID`."""

    @property
    def recheck_policy(self) -> RecheckPolicy:
        """How often, and how long an outage is borne."""

    async def recheck(self, link: UpstreamLink, now: float) -> Rechecked:
        """Read the user again; raise UserGone or SourceUnavailable."""


class PasswordSource(RecheckingSource, Protocol):
    """A source users sign in to with a name and password (an LDAP directory)."""

    @property
    def title(self) -> str:
        """What the pages call it."""

    @property
    def password_change_allowed(self) -> bool:
        """True when the account page may change passwords through it."""

    @property
    def password_change_url(self) -> str:
        """Where users change their password otherwise ("" if unknown)."""

    async def authenticate(self, typed_name: str, password: str) -> VouchedUser:
        """Who this name and password sign in as; raise InvalidCredentials, NameRefused or
        SourceUnavailable."""

    async def verify_password(self, upstream_id: str, password: str) -> bool:
        """True if `password` is the user's (found by id); raise SourceUnavailable."""

    async def change_password(self, upstream_id: str, old: str, new: str) -> bool:
        """Change the password upstream; False if `old` is wrong; raise
        PasswordChangeRefused, UserGone or SourceUnavailable."""

    def close(self) -> None:
        """Release connections."""
