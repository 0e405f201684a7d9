"""An LDAP / Active Directory source: search as the service account, then bind as the user.

A sign-in searches for the typed name (escaped, RFC 4515) with the source's user filter and
its "active" filter (not disabled, not expired), and needs exactly one entry; then it binds as
that entry's DN with the typed password. Whatever the outcome, it makes the same calls: an
unknown name, a disabled account or two entries for one name bind as a DN that cannot exist
(escaped, RFC 4514), so that a wrong password, an unknown name and a disabled account take the
same work and answer the same. An empty password is refused before any bind: many servers
take it as an unauthenticated bind and say "success".

The user's identity is the entry's immutable id (entryUUID, objectGUID), never the name, which
comes from `name_attribute` and must fit our rules. Groups are read with the service account,
through memberOf (names read from the group entries) or a search (AD's in-chain rule walks
nested groups on the server).
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections.abc import Callable

import ldap.dn
import ldap.filter

from verifier.errors import InvalidCredentials
from verifier.upstream.config import LdapSourceConfig, RecheckPolicy
from verifier.upstream.mapping import our_name
from verifier.upstream.presets import MEMBER_OF, NO_PASSWORD_CHANGE
from verifier.users.sources.interface import (
    PasswordChangeRefused,
    Rechecked,
    SourceUnavailable,
    UpstreamLink,
    UserGone,
    VouchedUser,
)
from verifier.users.sources.ldap_pool import (
    DirectorySession,
    Entry,
    LdapConnections,
    PasswordRejected,
    TooManyEntries,
)

log = logging.getLogger(__name__)

# Active Directory counts time in 100 ns ticks since 1601-01-01 (UTC).
_FILETIME_EPOCH_OFFSET_SECONDS = 11_644_473_600
# Resolving memberOf DNs to names: so many DNs per search, at most.
_GROUP_DNS_PER_SEARCH = 100
MAX_GROUPS = 1000


def escape_value(value: str) -> str:
    """A value made safe for a filter (RFC 4515): `*`, `(`, `)`, `\\` and NUL escaped."""
    return str(ldap.filter.escape_filter_chars(value, escape_mode=0))


def escape_bytes(value: bytes) -> str:
    """Every byte escaped (RFC 4515 `\\xx`): for binary values such as objectGUID."""
    return "".join(f"\\{byte:02x}" for byte in value)


def filter_with(template: str, **values: str) -> str:
    """The template with `{name}` placeholders replaced by values already escaped.

    Plain replacement, not str.format: the template comes from the sources file and may hold
    braces that are not placeholders of ours.
    """
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


def now_filetime(now: float) -> str:
    """`now` as Active Directory's accountExpires counts it."""
    return str(int((now + _FILETIME_EPOCH_OFFSET_SECONDS) * 10_000_000))


class LdapSource:
    """One directory of the sources file (`ldap:ID`)."""

    def __init__(
        self,
        config: LdapSourceConfig,
        connections: LdapConnections | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._connections = connections or LdapConnections(config)
        self._clock = clock
        # A DN no entry has (random, escaped): what an unknown name binds as.
        nobody = ldap.dn.escape_dn_chars(f"verifier-nobody-{secrets.token_hex(16)}")
        self._nobody_dn = f"cn={nobody},{config.base_dn}"

    @property
    def name(self) -> str:
        """`ldap:ID`."""
        return self._config.name

    @property
    def title(self) -> str:
        """What the pages call this directory."""
        return self._config.title

    @property
    def recheck_policy(self) -> RecheckPolicy:
        """How often sessions are re-checked, and how long an outage is borne."""
        return self._config.recheck

    @property
    def password_change_allowed(self) -> bool:
        """True when the account page may change passwords through this directory."""
        return self._config.password_change != NO_PASSWORD_CHANGE

    @property
    def password_change_url(self) -> str:
        """Where users change their password otherwise ("" if the file names none)."""
        return self._config.password_change_url

    async def authenticate(self, typed_name: str, password: str) -> VouchedUser:
        """The user this name and password sign in as; raise InvalidCredentials,
        NameRefused (the directory's name does not fit ours) or SourceUnavailable."""
        if not password:
            raise InvalidCredentials()  # before any bind: an empty one "succeeds" on many servers
        user_filter = filter_with(self._config.user_filter, username=escape_value(typed_name))
        found_filter = self._and_active(user_filter, self._clock())

        def work(session: DirectorySession) -> tuple[Entry, list[str]] | None:
            try:
                entries = session.search(
                    self._config.base_dn, found_filter, self._entry_attributes(), size_limit=2
                )
            except TooManyEntries:
                log.warning("%s: several entries match one sign-in name: refused", self.name)
                entries = []
            entry = entries[0] if len(entries) == 1 else None
            # The same bind whatever was found: the answer and its timing tell nothing.
            accepted = session.bind_as(entry[0] if entry else self._nobody_dn, password)
            if entry is None or not accepted:
                return None
            return entry, self._group_names(session, entry)

        found = await self._connections.run(work)
        if found is None:
            raise InvalidCredentials()
        return self._vouched(*found)

    async def recheck(self, link: UpstreamLink, now: float) -> Rechecked:
        """Read the session's user again by their immutable id; raise UserGone when the
        directory no longer has them as an active user, SourceUnavailable if it cannot tell."""
        search_filter = self._by_id(link.upstream_id, now)

        def work(session: DirectorySession) -> tuple[Entry, list[str]] | None:
            try:
                entries = session.search(
                    self._config.base_dn, search_filter, self._entry_attributes(), size_limit=2
                )
            except TooManyEntries:
                entries = []
            if len(entries) != 1:
                return None
            return entries[0], self._group_names(session, entries[0])

        found = await self._connections.run(work)
        if found is None:
            raise UserGone(self.name, "not in the directory, or disabled or expired there")
        # The name is not read again: the id is the identity, and the account here keeps
        # its name even if the directory renamed the entry.
        return Rechecked(
            groups=self._config.groups.ours(found[1]).groups,
            link=UpstreamLink(source=self.name, upstream_id=link.upstream_id, checked_at=now),
        )

    async def verify_password(self, upstream_id: str, password: str) -> bool:
        """True if `password` is this user's (found by id: a step-up, the account page)."""
        if not password:
            return False
        search_filter = self._by_id(upstream_id, self._clock())

        def work(session: DirectorySession) -> bool:
            try:
                entries = session.search(self._config.base_dn, search_filter, ["1.1"], size_limit=2)
            except TooManyEntries:
                entries = []
            dn = entries[0][0] if len(entries) == 1 else self._nobody_dn
            return session.bind_as(dn, password) and len(entries) == 1

        return await self._connections.run(work)

    async def change_password(self, upstream_id: str, old: str, new: str) -> bool:
        """Change the user's password in the directory; False if `old` is wrong.

        Raise PasswordChangeRefused (not allowed here, or the directory's policy refused
        `new`), UserGone or SourceUnavailable.
        """
        if not self.password_change_allowed:
            raise PasswordChangeRefused(
                "not_here", self.title, f"{self.title} does not take password changes here"
            )
        search_filter = self._by_id(upstream_id, self._clock())
        method = self._config.password_change

        def work(session: DirectorySession) -> bool | None:
            entries = session.search(self._config.base_dn, search_filter, ["1.1"], size_limit=2)
            if len(entries) != 1:
                return None
            return session.change_password(entries[0][0], old, new, method)

        try:
            changed = await self._connections.run(work)
        except PasswordRejected as rejected:
            log.info("%s refused a new password: %s", self.name, rejected.detail)
            raise PasswordChangeRefused(
                "policy",
                self.title,
                f"{self.title} refused the new password (its password policy: length, "
                "history or complexity)",
            ) from None
        if changed is None:
            raise UserGone(self.name, "not in the directory, or disabled or expired there")
        return changed

    def close(self) -> None:
        """Release the directory's connections (worker shutdown)."""
        self._connections.close()

    def _by_id(self, upstream_id: str, now: float) -> str:
        # `{username}` becomes `*`: any name the user filter admits, so that a user moved out
        # of what the filter allows (a group, an OU) is gone too.
        user_filter = filter_with(self._config.user_filter, username="*")
        id_filter = f"({self._config.id_attribute}={self._id_value(upstream_id)})"
        return self._and_active(f"(&{user_filter}{id_filter})", now)

    def _and_active(self, search_filter: str, now: float) -> str:
        active = self._config.active_filter
        if not active:
            return search_filter
        active = filter_with(active, now_filetime=now_filetime(now))
        return f"(&{search_filter}{active})"

    def _entry_attributes(self) -> list[str]:
        config = self._config
        wanted = [config.name_attribute, config.id_attribute]
        if config.groups_lookup == MEMBER_OF:
            wanted.append(config.member_of_attribute)
        return wanted

    def _id_value(self, upstream_id: str) -> str:
        if not self._config.id_binary:
            return escape_value(upstream_id)
        try:
            raw = uuid.UUID(upstream_id).bytes_le
        except ValueError:
            raise UserGone(self.name, "the session's id is not a GUID") from None
        return escape_bytes(raw)

    def _group_names(self, session: DirectorySession, entry: Entry) -> list[str]:
        config = self._config
        dn, attributes = entry
        if config.groups_lookup == MEMBER_OF:
            # slapd hands memberOf back in lower case: names are read from the group entries.
            dns = [_text(value) for value in _values(attributes, config.member_of_attribute)]
            names: list[str] = []
            for start in range(0, min(len(dns), MAX_GROUPS), _GROUP_DNS_PER_SEARCH):
                chunk = dns[start : start + _GROUP_DNS_PER_SEARCH]
                wanted = "".join(
                    f"({config.group_dn_attribute}={escape_value(group)})" for group in chunk
                )
                names += self._names_of(session, f"(&{config.groups_filter}(|{wanted}))")
            return names
        raw_name = _first_text(attributes, config.name_attribute)
        search_filter = filter_with(
            config.groups_filter, dn=escape_value(dn), username=escape_value(raw_name)
        )
        return self._names_of(session, search_filter)

    def _names_of(self, session: DirectorySession, search_filter: str) -> list[str]:
        attribute = self._config.group_name_attribute
        entries = session.search(self._config.groups_base_dn, search_filter, [attribute])
        return [_first_text(attributes, attribute) for _, attributes in entries[:MAX_GROUPS]]

    def _vouched(self, entry: Entry, group_names: list[str]) -> VouchedUser:
        config = self._config
        _, attributes = entry
        raw_name = _first_text(attributes, config.name_attribute)
        name = our_name(self.name, raw_name)
        ids = _values(attributes, config.id_attribute)
        if not ids:
            log.error("%s: the entry of %s has no %s", self.name, name, config.id_attribute)
            raise SourceUnavailable(self.name, f"its entries have no {config.id_attribute}")
        if config.id_binary:
            try:
                upstream_id = str(uuid.UUID(bytes_le=ids[0]))
            except ValueError:
                raise SourceUnavailable(
                    self.name, f"{config.id_attribute} is not a 16-byte GUID"
                ) from None
        else:
            upstream_id = _text(ids[0])
        mapped = config.groups.ours(group_names)
        if mapped.dropped:
            log.info(
                "%s: groups of %s not taken (their names do not fit ours): %s",
                self.name,
                name,
                ", ".join(mapped.dropped),
            )
        return VouchedUser(
            source=self.name,
            name=name,
            upstream_id=upstream_id,
            groups=mapped.groups,
            dropped_groups=mapped.dropped,
        )


def _values(attributes: dict[str, list[bytes]], name: str) -> list[bytes]:
    # Attribute names are case-insensitive; servers answer in their own spelling.
    wanted = name.lower()
    for key, values in attributes.items():
        if key.lower() == wanted:
            return values
    return []


def _first_text(attributes: dict[str, list[bytes]], name: str) -> str:
    values = _values(attributes, name)
    return _text(values[0]) if values else ""


def _text(value: bytes) -> str:
    # LDAP strings are UTF-8; anything else cannot be one of our names anyway.
    return value.decode("utf-8", errors="replace")
