"""A token's scope: what it may do, always a part of what its owner may do, never more.

Two kinds of term, any number of each (`--scope group:deployers --scope path:/api/`):

- `group:NAME`: the token carries only these of its owner's groups (the intersection, read
  afresh on every check: a group the owner leaves, the token loses at once). Without any,
  the token carries every group of its owner.
- `path:/PREFIX`: the token enters only paths under one of these prefixes, by whole
  segments, matched on the path nginx normalized (`$uri`, as the central rules are); every
  other path is refused with 403. Without any, every path.

Every location's declaration and every central rule still apply on top, with the narrowed
groups: a scope can only take away.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from verifier.access.paths import normalized_path, path_has_prefix
from verifier.apitokens.inputs import BadTokenInput
from verifier.store.keyspace import USER_NAME_RULE, normalize_user_name

GROUP = "group:"
PATH = "path:"
MAX_TERMS = 16
MAX_PATH_LENGTH = 256


@dataclass(frozen=True, slots=True)
class Scope:
    """Groups (empty: all of the owner's) and path prefixes (empty: every path)."""

    groups: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()

    def __str__(self) -> str:
        """The canonical form, as stored and shown: `group:a path:/x/`, or `` for none."""
        return " ".join([GROUP + group for group in self.groups] + [PATH + p for p in self.paths])

    @property
    def narrows(self) -> bool:
        """True when the token may do less than its owner."""
        return bool(self.groups or self.paths)

    def describe(self) -> str:
        """For people: the terms, or what no term means."""
        return str(self) if self.narrows else "everything its owner may"

    def groups_for(self, owner_groups: Sequence[str]) -> tuple[str, ...]:
        """The groups the token carries: the owner's, or those of them the scope names."""
        if not self.groups:
            return tuple(owner_groups)
        return tuple(group for group in owner_groups if group in self.groups)

    def allows_path(self, path: str) -> bool:
        """True if a request for `path` (normalized) is inside the scope's paths."""
        return not self.paths or any(path_has_prefix(path, prefix) for prefix in self.paths)

    @classmethod
    def parse(cls, terms: Iterable[str]) -> Scope:
        """Terms as typed (several to a string, spaces between); BadTokenInput naming a bad one."""
        groups: set[str] = set()
        paths: set[str] = set()
        words = [word for term in terms for word in term.split()]
        if len(words) > MAX_TERMS:
            raise BadTokenInput(f"a scope has at most {MAX_TERMS} terms")
        for word in words:
            if word.startswith(GROUP):
                group = normalize_user_name(word[len(GROUP) :])
                if group is None:
                    raise BadTokenInput(f"bad scope {word!r}: group names are {USER_NAME_RULE}")
                groups.add(group)
            elif word.startswith(PATH):
                paths.add(_checked_path(word))
            else:
                raise BadTokenInput(
                    f"bad scope {word!r}: a scope term is group:NAME or path:/PREFIX"
                )
        return cls(tuple(sorted(groups)), tuple(sorted(paths)))

    @classmethod
    def stored(cls, text: str) -> Scope:
        """A scope as stored (its canonical form); BadTokenInput if it is not one."""
        scope = cls.parse([text])
        if str(scope) != text:
            raise BadTokenInput("not a canonical scope")
        return scope


def _checked_path(word: str) -> str:
    prefix = word[len(PATH) :]
    # The form nginx hands the check ($uri): decoded, no dot segments, single slashes. A
    # prefix in any other form would never match, which would only surprise its owner.
    if (
        not prefix.startswith("/")
        or len(prefix) > MAX_PATH_LENGTH
        or not prefix.isprintable()
        or normalized_path(prefix) != prefix
    ):
        raise BadTokenInput(
            f"bad scope {word!r}: a path is absolute and normalized, e.g. path:/api/ (no "
            f"'..', '//', '%' escapes or spaces; at most {MAX_PATH_LENGTH} characters)"
        )
    return prefix
