"""When each token was last used, without a Redis write per request.

Every admitted request notes its token's use in the worker's memory (one dict assignment);
a background job writes what was noted every `interval_seconds` (VERIFIER_API_TOKEN_USAGE_
FLUSH_SECONDS, a minute by default), one small script per token used since, which keeps the
later of two workers' times and never brings back a token revoked meanwhile. So the "last
used" an owner sees is at most one interval old; a worker that is killed outright (SIGKILL,
no shutdown) loses its last interval of notes, and the token then shows its use before
that until it is used again. A graceful stop writes what it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from verifier.errors import StoreUnavailable

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 60


class UsageStore(Protocol):
    """Where uses are written (verifier.apitokens.store.TokenStore)."""

    async def touch(self, digest: str, when: int) -> None:
        """Record that the token of `digest` was used at `when` (unless a later use is)."""


class TokenUsage:
    """A worker's notes of token uses, written to Redis in the background."""

    def __init__(
        self, store: UsageStore, interval_seconds: float = DEFAULT_INTERVAL_SECONDS
    ) -> None:
        self._store = store
        self._interval = interval_seconds
        self._noted: dict[str, int] = {}
        self._stopping = False

    def note(self, digest: str, now: float) -> None:
        """Remember that the token was used now (the /auth path: no I/O)."""
        self._noted[digest] = int(now)

    async def flush(self) -> None:
        """Write every use noted since the last flush; keep them for the next on an outage."""
        noted, self._noted = self._noted, {}
        for position, (digest, when) in enumerate(noted.items()):
            try:
                await self._store.touch(digest, when)
            except StoreUnavailable as error:
                # Not lost: the next flush tries again (a later use of the same token wins).
                for digest_left, when_left in list(noted.items())[position:]:
                    self._noted.setdefault(digest_left, when_left)
                log.warning("token uses not written (%s): retrying in %gs", error, self._interval)
                return

    async def run(self) -> None:
        """Flush every interval until stopped; flush once more on the way out."""
        try:
            while not self._stopping:
                await asyncio.sleep(self._interval)
                await self.flush()
        finally:
            # Cancelled at shutdown (verifier.app): what was noted since the last round is
            # written before the connections close. Shielded from a second cancellation.
            with contextlib.suppress(StoreUnavailable, asyncio.CancelledError):
                await asyncio.shield(self.flush())

    def stop(self) -> None:
        """Ask run() to return; it writes what it holds first."""
        self._stopping = True
