"""Per-worker reload of the keys directory: poll, rebuild, swap; never crash, never block.

Each worker checks the directory's signature (names, mtimes, sizes, inodes of the key
files) every `interval_seconds`, and rebuilds its ring when it changed. File work runs in a
thread, so a slow disk never stalls a request; the swap is one assignment on the event
loop. A directory that fails to load is logged and the ring in use is kept.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

from verifier.errors import KeyFileError
from verifier.keyring.files import DirectorySignature, directory_signature
from verifier.keyring.loader import directory_ring, ring_policy, static_ring
from verifier.keyring.ring import CurrentRing, KeyRing, RingPolicy
from verifier.observe.audit import AuditLog, LoggingAuditLog
from verifier.settings import Settings

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class KeyRingReloader:
    """Keeps a CurrentRing in step with a keys directory."""

    def __init__(
        self,
        directory: Path,
        policy: RingPolicy,
        current: CurrentRing,
        clock: Clock,
        interval_seconds: float,
        signature: DirectorySignature,
        audit: AuditLog | None = None,
    ) -> None:
        self._directory = directory
        self._audit = audit or LoggingAuditLog()
        self._policy = policy
        self._current = current
        self._clock = clock
        self._interval = interval_seconds
        # What the ring in use was built from (or the last change that failed to load, so
        # a broken file is logged once, not every interval).
        self._signature: DirectorySignature | None = signature
        self._last_error: str | None = None
        self._stopping = False

    def stop(self) -> None:
        """Ask run() to return at its next wake-up."""
        self._stopping = True

    async def run(self) -> None:
        """Check the directory every interval until stopped."""
        while not self._stopping:
            await asyncio.sleep(self._interval)
            if not self._stopping:
                await self.check()

    async def check(self) -> bool:
        """Reload if the directory changed; return whether a new ring was swapped in."""
        try:
            signature = await asyncio.to_thread(directory_signature, self._directory)
        except KeyFileError as error:
            self._failed(None, error)
            return False
        if signature == self._signature:
            return False
        try:
            ring, signature = await asyncio.to_thread(
                directory_ring, self._directory, self._policy, self._clock()
            )
        except KeyFileError as error:
            self._failed(signature, error)
            return False
        self._current.swap(ring)
        self._signature = signature
        self._last_error = None
        # Each worker reloads on its own: the PID tells an operator (and a test) which ones
        # hold the new ring, since a change of several files can be seen half-done once.
        worker = os.getpid()
        log.info(
            "key ring reloaded in worker %d from %s: %s", worker, self._directory, _describe(ring)
        )
        # Key ids only: never key material.
        self._audit.record(
            "keys.reloaded", worker=worker, directory=str(self._directory), kids=_describe(ring)
        )
        return True

    def _failed(self, signature: DirectorySignature | None, error: KeyFileError) -> None:
        # Logged once per distinct problem, not once per interval.
        if str(error) != self._last_error:
            log.error("keys not reloaded, keeping the ring in use: %s", error)
        self._last_error = str(error)
        # Remembering the broken state means it is not re-read until it changes; None (an
        # unreadable directory) never equals a real signature, so it is read once readable.
        self._signature = signature


def _describe(ring: KeyRing) -> str:
    return ", ".join(ring.kids()) or "(empty)"


def watched_ring(
    settings: Settings, clock: Clock, audit: AuditLog | None = None
) -> tuple[CurrentRing, KeyRingReloader | None]:
    """The ring of the settings, and its reloader when it comes from a keys directory.

    Raises KeyFileError (naming the file) if the directory cannot serve now: start-up
    stops on a bad directory, while a reload keeps the ring in use.
    """
    if settings.keys_dir is None:
        return CurrentRing(static_ring(settings.signing_keys)), None
    policy = ring_policy(settings)
    ring, signature = directory_ring(settings.keys_dir, policy, clock())
    current = CurrentRing(ring)
    reloader = KeyRingReloader(
        settings.keys_dir, policy, current, clock, settings.keys_reload_seconds, signature, audit
    )
    return current, reloader
