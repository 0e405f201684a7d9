"""Every login source of this deployment, built once at start-up from the sources file."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from verifier.errors import SettingsError
from verifier.upstream.config import SourcesConfig
from verifier.users.sources.interface import PasswordSource, RecheckingSource
from verifier.users.sources.oidc_source import OidcSource


class Sources:
    """The configured upstream sources, by name (`ldap:ID`, `oidc:ID`), in file order."""

    def __init__(
        self,
        password_sources: Sequence[PasswordSource] = (),
        *,
        password_form: bool = True,
        providers: Sequence[OidcSource] = (),
    ) -> None:
        self.password_sources = tuple(password_sources)
        # The OpenID Providers, in file order: one button each on the sign-in page.
        self.providers = tuple(providers)
        # Show the user name and password form on the sign-in page (else only buttons).
        self.password_form = password_form
        rechecking: list[RecheckingSource] = [*self.password_sources, *self.providers]
        self._rechecking = {source.name: source for source in rechecking}

    @classmethod
    def from_config(cls, config: SourcesConfig, clock: Callable[[], float] = time.time) -> Sources:
        """Build every source the file names (connections are opened on first use)."""
        password_sources: list[PasswordSource] = []
        if config.ldap:
            try:
                # Only now: python-ldap is an optional extra, needed only by LDAP sources.
                from verifier.users.sources.ldap_source import LdapSource  # noqa: PLC0415
            except ImportError as error:
                raise SettingsError(
                    f"{config.source}: the ldap sources need python-ldap, which is not "
                    f"installed ({error}): install verifier[ldap] (it needs libldap)"
                ) from None
            password_sources = [LdapSource(source, clock=clock) for source in config.ldap]
        providers = [OidcSource(source, clock=clock) for source in config.oidc]
        return cls(password_sources, password_form=config.password_form, providers=providers)

    def rechecking(self, name: str) -> RecheckingSource | None:
        """The source of that name whose sessions are re-checked, or None if not configured."""
        return self._rechecking.get(name)

    def provider(self, name: str) -> OidcSource | None:
        """The OpenID Provider of that name (`oidc:ID`), or None."""
        return next((source for source in self.providers if source.name == name), None)

    def password_source(self, name: str) -> PasswordSource | None:
        """The password source (LDAP) of that name, or None."""
        return next((source for source in self.password_sources if source.name == name), None)

    async def close(self) -> None:
        """Release every source's connections (worker shutdown)."""
        for source in self.password_sources:
            source.close()


NO_SOURCES = Sources()
