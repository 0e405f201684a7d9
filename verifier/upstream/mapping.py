"""The names and groups an upstream source presents, made ours, or refused: never bent.

A user's name comes from one attribute or claim the sources file names (`uid`,
`sAMAccountName`, `preferred_username`...). It must already fit our name rules, upper case
aside (names are case-insensitive here as in LDAP): `jürgen` is refused with a message that
says why, never transliterated to `jurgen`, which could be somebody else.

Groups: only what the sources file maps becomes one of ours. `group_map` names upstream
groups one by one (compared without regard to case, as LDAP compares them) and may map one
onto a local group such as `admins`; `group_prefix` (opt-in) admits every other upstream
group as PREFIX + its name, so an upstream group can never produce the name of a local
group unless the table maps it there. Upstream groups whose name does not fit our rules are
dropped, and said so in the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from verifier.errors import VerifierError
from verifier.store.keyspace import USER_NAME_RULE, normalize_user_name


class NameRefused(VerifierError):
    """The upstream's name for a user does not fit our rules; `raw` is what it presented."""

    def __init__(self, source: str, raw: str) -> None:
        shown = raw if raw.isprintable() and len(raw) <= 64 else repr(raw[:64])
        super().__init__(
            f"{source} names this account {shown!r}, which is not a valid user name here "
            f"({USER_NAME_RULE}); an administrator can link the account to another name "
            "(verifier users link)"
        )
        self.source = source
        self.raw = raw


def our_name(source: str, raw: str) -> str:
    """The user name an upstream's value stands for; raise NameRefused if it does not fit."""
    name = normalize_user_name(raw)
    if name is None or name != raw.lower():
        # `!= raw.lower()`: normalize_user_name also strips blanks, and " alice" is not alice.
        raise NameRefused(source, raw)
    return name


@dataclass(frozen=True)
class MappedGroups:
    """What a mapping made of an upstream's groups: ours, and the names it had to drop."""

    groups: tuple[str, ...]
    dropped: tuple[str, ...] = ()


@dataclass(frozen=True)
class GroupMapping:
    """Which upstream groups become ours, and as what (see the module's docstring)."""

    # (upstream name in lower case, our group), sorted by upstream name.
    table: tuple[tuple[str, str], ...] = ()
    # Empty: only the table's groups; else every other upstream group becomes prefix + name.
    prefix: str = ""

    def ours(self, upstream: Iterable[str]) -> MappedGroups:
        """Our groups for these upstream group names (sorted, unique), and the dropped names."""
        table = dict(self.table)
        groups: set[str] = set()
        dropped: list[str] = []
        for raw in upstream:
            mapped = table.get(raw.lower())
            if mapped is not None:
                groups.add(mapped)
                continue
            if not self.prefix:
                continue  # not mapped: not ours, and nothing to report
            name = normalize_user_name(self.prefix + raw)
            if name is None or name != (self.prefix + raw).lower():
                dropped.append(raw)
            else:
                groups.add(name)
        return MappedGroups(tuple(sorted(groups)), tuple(dropped))
