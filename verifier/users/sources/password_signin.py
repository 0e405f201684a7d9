"""Sign-in with a name and password: the verifier's own users, or an LDAP directory's.

A name belongs to one source, so the user record of the typed name decides where its password
is checked: a local user's here (argon2id), an LDAP user's in their directory, and a user of
an OpenID Provider nowhere (they have no password here: the local check fails for them with
the same work as a wrong password). A name nobody holds yet is tried in each directory, in
the sources file's order, the first that accepts it creating the user's record.

Work: every name (known or not, enabled or not) costs one Redis read, then either the local
check or, for each directory tried, one search and one bind. Whether a name is a local user's
can show in the time taken (an argon2id check against directory round trips); whether a
directory knows a name, or has it disabled, cannot.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from verifier.errors import InvalidCredentials
from verifier.factors.methods import LOCAL_SOURCE
from verifier.store.keyspace import normalize_user_name
from verifier.users.sources.accounts import UpstreamAccounts
from verifier.users.sources.interface import (
    PasswordChangeRefused,
    PasswordSource,
    SourceUnavailable,
    UpstreamLink,
)
from verifier.users.sources.registry import Sources
from verifier.users.store import UserStore


@dataclass(frozen=True)
class PasswordSignedIn:
    """Who a name and password signed in as, and through which source."""

    name: str
    source: str = LOCAL_SOURCE
    # The upstream sign-in the session keeps (None for a local user).
    upstream: UpstreamLink | None = None
    # How often the session's user is read again upstream (None for a local user).
    recheck_interval: int | None = None
    # Upstream groups whose names could not become ours.
    dropped_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class PasswordHome:
    """Where a user's password lives: here (source None) or in a directory."""

    source: PasswordSource | None
    upstream_id: str = ""
    # The user signs in through a source that has no password here (an OpenID Provider).
    elsewhere: str = ""


class PasswordSignIn:
    """Checks passwords where they live (the login form, step-up, the account page)."""

    def __init__(
        self,
        users: UserStore,
        accounts: UpstreamAccounts,
        sources: Sources,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._users = users
        self._accounts = accounts
        self._sources = sources
        self._clock = clock

    async def authenticate(self, typed_name: str, password: str) -> PasswordSignedIn:
        """Who this name and password sign in as.

        Raise InvalidCredentials; SourceUnavailable (a directory that might hold the name
        could not be asked); NameRefused (the directory's name for them does not fit ours);
        NameTaken (that name belongs to another source or identity).
        """
        if not self._sources.password_sources:
            return PasswordSignedIn(await self._users.authenticate(typed_name, password))
        name = normalize_user_name(typed_name)
        owner = await self._accounts.owner(name) if name is not None else None
        home = self._sources.password_source(owner) if owner is not None else None
        if owner is not None and home is None:
            # A local user, or one whose source takes no password here: the local check
            # (for the latter it fails, with the work of a wrong password).
            return PasswordSignedIn(await self._users.authenticate(typed_name, password))
        candidates = [home] if home is not None else list(self._sources.password_sources)
        unavailable: SourceUnavailable | None = None
        for source in candidates:
            try:
                vouched = await source.authenticate(typed_name, password)
            except InvalidCredentials:
                continue
            except SourceUnavailable as down:
                unavailable = down  # fail closed: the name may be that directory's
                continue
            now = self._clock()
            user = await self._accounts.admit(vouched, now)
            return PasswordSignedIn(
                name=user,
                source=source.name,
                upstream=UpstreamLink(
                    source=source.name, upstream_id=vouched.upstream_id, checked_at=now
                ),
                recheck_interval=source.recheck_policy.interval_seconds,
                dropped_groups=vouched.dropped_groups,
            )
        if unavailable is not None:
            raise unavailable
        raise InvalidCredentials()

    async def home(self, user: str) -> PasswordHome:
        """Where a signed-in user's password lives."""
        identity = await self._accounts.identity(user)
        if identity is None:
            return PasswordHome(source=None)
        source_name, upstream_id = identity
        source = self._sources.password_source(source_name)
        if source is None:
            return PasswordHome(source=None, elsewhere=source_name)
        return PasswordHome(source=source, upstream_id=upstream_id)

    async def verify(self, user: str, password: str) -> None:
        """Check a signed-in user's password where it lives; raise InvalidCredentials or
        SourceUnavailable."""
        home = await self.home(user)
        if home.source is None:
            if home.elsewhere:
                raise InvalidCredentials()  # no password here: the provider's step-up
            await self._users.authenticate(user, password)
            return
        if not await home.source.verify_password(home.upstream_id, password):
            raise InvalidCredentials()

    async def change(self, user: str, old: str, new: str) -> str:
        """Change a signed-in user's password where it lives; return where (`local` or the
        source's name). Raise InvalidCredentials (old is wrong), PasswordChangeRefused,
        BadUserInput (a local rule), UserGone or SourceUnavailable."""
        home = await self.home(user)
        if home.source is None:
            if home.elsewhere:
                raise PasswordChangeRefused(
                    "elsewhere", home.elsewhere, f"you sign in through {home.elsewhere}"
                )
            await self._users.authenticate(user, old)
            await self._users.set_password(user, new)
            return LOCAL_SOURCE
        if not await home.source.change_password(home.upstream_id, old, new):
            raise InvalidCredentials()
        return home.source.name
