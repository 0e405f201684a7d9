"""The key ring: which key signs and which keys verify, for each use, at a given time.

Keys of one use are ordered by `activates_at` (then `created`, then the order given). The
signing key at `now` is the last one active by then. A key is superseded when the next
one activates, at T, and keeps verifying until T plus the longest lifetime of a token it
could have signed (`RingPolicy`); then it verifies nothing and leaves the JWKS. A ring is
immutable: a reload builds a new one and swaps it in whole (`CurrentRing`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from verifier.keyring.material import ASSERTION, USES, Key, KeyUse


@dataclass(frozen=True)
class RingPolicy:
    """How long a superseded key of each use still verifies, in seconds."""

    access_verify_seconds: float
    assertion_verify_seconds: float

    def verify_seconds(self, use: KeyUse) -> float:
        """The window of `use`: the longest a token signed just before supersession lives."""
        return self.access_verify_seconds if use == "access" else self.assertion_verify_seconds


class KeyState(StrEnum):
    """Where a key is in its life, at one moment."""

    PENDING = "pending"  # published and verifying, signs nothing yet
    SIGNING = "signing"
    VERIFYING = "verifying"  # superseded; its tokens may still be live
    EXPIRED = "expired"  # every token it signed has expired: safe to delete
    RETIRED = "retired"  # withdrawn by force: verifies nothing, its tokens are refreshed


@dataclass(frozen=True, slots=True)
class RingEntry:
    """A key with the times the ring derived for it."""

    key: Key
    # When the next key of its use activates (inf: not superseded). For a retired key, the
    # last moment it could have signed anything.
    superseded_at: float
    # Its tokens verify strictly before this time (-inf for a retired key).
    verifies_until: float
    # Every token it signed has expired by this time.
    tokens_expire_by: float

    def verifies(self, now: float) -> bool:
        """True while tokens of this key are accepted."""
        return now < self.verifies_until

    def state(self, now: float) -> KeyState:
        """The key's state at `now`."""
        if self.key.retired:
            return KeyState.RETIRED
        if now < self.key.activates_at:
            return KeyState.PENDING
        if now < self.superseded_at:
            return KeyState.SIGNING
        if now < self.verifies_until:
            return KeyState.VERIFYING
        return KeyState.EXPIRED


class KeyRing:
    """Every known key of both uses, and the rules for picking among them."""

    def __init__(self, keys: Iterable[Key], policy: RingPolicy) -> None:
        ordered = sorted(keys, key=lambda key: (key.activates_at, key.created))  # stable
        self.policy = policy
        self._entries: dict[str, RingEntry] = {}
        self._live: dict[KeyUse, tuple[RingEntry, ...]] = {}
        for use in USES:
            of_use = [key for key in ordered if key.use == use]
            window = policy.verify_seconds(use)
            live: list[RingEntry] = []
            for index, key in enumerate(of_use):
                superseded_at = _next_takeover(of_use[index + 1 :])
                if key.retired_at is None:
                    until = superseded_at + window
                    entry = RingEntry(key, superseded_at, until, until)
                    live.append(entry)
                else:
                    last_signed = min(float(key.retired_at), superseded_at)
                    entry = RingEntry(key, last_signed, -math.inf, last_signed + window)
                self._add(entry)
            self._live[use] = tuple(live)

    def _add(self, entry: RingEntry) -> None:
        if entry.key.kid in self._entries:
            raise ValueError(f"kid {entry.key.kid!r} appears twice in the key ring")
        self._entries[entry.key.kid] = entry

    def signing_key(self, use: KeyUse, now: float) -> Key | None:
        """The key that signs tokens of `use` at `now`, or None if there is none."""
        for entry in reversed(self._live[use]):
            if entry.key.activates_at <= now:
                # Only while not superseded: a hand-edited directory could leave the
                # newest live key superseded by a withdrawn one; then nothing signs.
                return entry.key if now < entry.superseded_at else None
        return None

    def lookup(self, use: KeyUse, kid: str) -> RingEntry | None:
        """The entry of `kid` if it is a key of `use` (retired or not), else None."""
        entry = self._entries.get(kid)
        return entry if entry is not None and entry.key.use == use else None

    def entry(self, kid: str) -> RingEntry | None:
        """The entry of `kid`, whatever its use."""
        return self._entries.get(kid)

    def entries(self) -> tuple[RingEntry, ...]:
        """Every entry, by use then activation order."""
        return tuple(
            sorted(
                self._entries.values(),
                key=lambda entry: (entry.key.use, entry.key.activates_at, entry.key.created),
            )
        )

    def published(self, now: float) -> tuple[Key, ...]:
        """Assertion keys apps must know at `now`: pending, signing and still verifying."""
        return tuple(entry.key for entry in self._live[ASSERTION] if entry.verifies(now))

    def kids(self) -> tuple[str, ...]:
        """Every kid of the ring, sorted (for logs)."""
        return tuple(sorted(self._entries))


def _next_takeover(later: list[Key]) -> float:
    # A key is superseded by the first later key that took over: one still live, or one
    # withdrawn after it had started signing. A key withdrawn while pending never signed,
    # so it supersedes nothing.
    for key in later:
        if key.retired_at is None or key.retired_at > key.activates_at:
            return float(key.activates_at)
    return math.inf


class CurrentRing:
    """The ring a worker uses now; readers take `.ring` once per operation."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring

    def swap(self, ring: KeyRing) -> None:
        """Replace the ring whole (one assignment: a reader sees the old or the new one)."""
        self.ring = ring
