"""Subjects: the `user:NAME` / `group:NAME` terms that say who a declaration or rule is about."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from verifier.errors import AccessConfigError

# The same characters as user and group names (verifier.store.keyspace): they travel in headers.
_NAME = re.compile(r"[a-z0-9._@+-]{1,64}")
_KINDS = ("user", "group")


@dataclass(frozen=True, slots=True)
class Subjects:
    """Any of these users or any member of these groups; empty means every signed-in user."""

    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()

    @property
    def anyone(self) -> bool:
        """True when no subject is named: every signed-in user matches."""
        return not self.users and not self.groups

    def matches(self, user: str, groups: Iterable[str]) -> bool:
        """True if the user is named, or is in a named group, or nobody is named."""
        if self.anyone or user in self.users:
            return True
        return not self.groups.isdisjoint(groups)

    def describe(self) -> str:
        """The subjects as they are written (`group:admins user:alice`), or `any signed-in user`."""
        if self.anyone:
            return "any signed-in user"
        terms = [f"user:{name}" for name in sorted(self.users)]
        terms += [f"group:{name}" for name in sorted(self.groups)]
        return " ".join(terms)

    @classmethod
    def parse(cls, terms: Iterable[str]) -> Subjects:
        """Build from `user:NAME` / `group:NAME` terms; raise AccessConfigError on any other."""
        users: set[str] = set()
        groups: set[str] = set()
        for term in terms:
            kind, sep, name = term.partition(":")
            if not sep or kind not in _KINDS:
                raise AccessConfigError(f"{term!r} is not a subject: write user:NAME or group:NAME")
            if not _NAME.fullmatch(name):
                raise AccessConfigError(
                    f"{term!r}: names are 1-64 characters of a-z, 0-9, '.', '_', '@', '+', '-'"
                )
            (users if kind == "user" else groups).add(name)
        return cls(users=frozenset(users), groups=frozenset(groups))
