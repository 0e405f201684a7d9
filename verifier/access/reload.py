"""Reload the central rules file while the service runs: no restart, no dropped request."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from verifier.access.decision import AccessPolicy
from verifier.access.rules import load_rules
from verifier.errors import RulesFileError
from verifier.observe.audit import AuditLog, LoggingAuditLog

log = logging.getLogger(__name__)

# How often each worker looks at the file (one stat call): an edit is in force within this.
POLL_SECONDS = 1.0


def _fingerprint(path: Path) -> tuple[int, int, int] | None:
    # Editors replace files (new inode) or rewrite them (new mtime/size): either shows here.
    try:
        found = path.stat()
    except OSError:
        return None
    return (found.st_ino, found.st_mtime_ns, found.st_size)


class RulesReloader:
    """Watches the rules file and swaps a valid new version into the policy.

    A file that becomes invalid (or disappears) is logged and the rules in force are kept:
    a typo in production must not open or close every door at once.
    """

    def __init__(
        self,
        path: Path,
        policy: AccessPolicy,
        poll_seconds: float = POLL_SECONDS,
        audit: AuditLog | None = None,
    ):
        self._path = path
        self._audit = audit or LoggingAuditLog()
        self._policy = policy
        self._poll_seconds = poll_seconds
        self._seen = _fingerprint(path)
        self._stopping = False

    def stop(self) -> None:
        """Ask run() to return at its next poll."""
        self._stopping = True

    def check_now(self) -> bool:
        """Reload if the file changed; True if new rules were put in force."""
        fingerprint = _fingerprint(self._path)
        if fingerprint == self._seen:
            return False
        self._seen = fingerprint
        if fingerprint is None:
            log.error("rules file %s is gone: keeping the rules in force", self._path)
            return False
        try:
            rules = load_rules(self._path)
        except RulesFileError as error:
            log.error("rules file not reloaded, keeping the rules in force: %s", error)
            return False
        self._policy.replace_rules(rules)
        worker = os.getpid()  # each worker reloads on its own
        log.info(
            "rules file %s reloaded in worker %d: %d rule(s)", self._path, worker, len(rules.rules)
        )
        self._audit.record(
            "config.reloaded",
            what="rules",
            worker=worker,
            file=str(self._path),
            rules=len(rules.rules),
        )
        return True

    async def run(self) -> None:
        """Poll until stopped."""
        while not self._stopping:
            await asyncio.sleep(self._poll_seconds)
            # A stat is microseconds, but keep file reading off the event loop's hot path.
            await asyncio.get_running_loop().run_in_executor(None, self.check_now)
