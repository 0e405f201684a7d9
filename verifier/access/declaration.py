"""What a location declares it requires, read from nginx's `$verifier_require`.

A protected location says who may enter next to itself:

    location /admin/ {
        set $verifier_require "group:admins user:alice";
        include verifier-protect.conf;
        ...
    }

Terms are separated by spaces or commas; the location admits any named user and any member
of a named group. An empty (or unset) declaration admits every signed-in user. Two more
terms ask something of the session, in addition: `mfa` (signed in with two factors) and
`max_age=N` (signed in within the last N minutes); a subject whose session falls short
needs a step-up (verifier.access.conditions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from verifier.access.conditions import NO_CONDITIONS, SignInConditions, split_terms
from verifier.access.subjects import Subjects
from verifier.errors import AccessConfigError

# A declaration is operator text copied into a header; nothing longer is a sane one.
MAX_DECLARATION_LENGTH = 2048
# Distinct declarations parsed per worker: one per protected location in practice.
_CACHE_ENTRIES = 1024
_SEPARATORS = re.compile(r"[\s,]+")


@dataclass(frozen=True, slots=True)
class LocationDeclaration:
    """The parsed `$verifier_require` of one location."""

    text: str
    subjects: Subjects
    conditions: SignInConditions = NO_CONDITIONS

    @classmethod
    def parse(cls, text: str) -> LocationDeclaration:
        """Parse a declaration; raise AccessConfigError naming the bad term."""
        if len(text) > MAX_DECLARATION_LENGTH:
            raise AccessConfigError("$verifier_require is longer than 2048 characters")
        terms = [term for term in _SEPARATORS.split(text.strip()) if term]
        try:
            conditions, subject_terms = split_terms(terms)
            subjects = Subjects.parse(subject_terms)
        except AccessConfigError as error:
            raise AccessConfigError(f"$verifier_require {text!r}: {error}") from None
        return cls(text=text, subjects=subjects, conditions=conditions)


class DeclarationCache:
    """Parses each distinct declaration once per worker (they repeat on every request)."""

    def __init__(self) -> None:
        self._parsed: dict[str, LocationDeclaration | AccessConfigError] = {}

    def get(self, text: str) -> LocationDeclaration:
        """The parsed declaration; raise AccessConfigError (cached too) if it is invalid."""
        found = self._parsed.get(text)
        if found is None:
            try:
                found = LocationDeclaration.parse(text)
            except AccessConfigError as error:
                found = error
            if len(self._parsed) >= _CACHE_ENTRIES:
                self._parsed.clear()
            self._parsed[text] = found
        if isinstance(found, AccessConfigError):
            raise found
        return found
