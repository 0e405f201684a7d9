"""How the `verifier` command counts the sessions it ends (password change, removal, end-all)
and the API tokens it makes and revokes.

Those revocations happen in the CLI's own process. It counts them into the running
service's multiprocess directory when VERIFIER_METRICS_DIR names it (as it does for
`docker compose exec verifier verifier users ...`, which runs with the service's
environment), so they appear in verifier_sessions_revoked_total beside the service's own.
Without VERIFIER_METRICS_DIR (the service then uses a directory of its own making, which
the CLI cannot know) or with metrics off, they are not counted.

Only those two counters are created: the CLI leaves a small counter file of its own there
(counters of exited processes stay in the sums), and no gauge, which would need a
mark_process_dead nobody calls for it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from verifier.observe.causes import RevocationCause
from verifier.observe.metrics.exposition import MULTIPROC_ENV


class MetricsSettings(Protocol):
    """What the count reads of the settings (verifier.settings.Settings has both)."""

    @property
    def metrics_bind(self) -> tuple[str, int] | None:
        """Where the service serves /metrics; None when metrics are off."""

    @property
    def metrics_dir(self) -> Path | None:
        """VERIFIER_METRICS_DIR, the service's multiprocess directory, when set."""


class RevocationCount(Protocol):
    """Counts sessions an admin command ended, and tokens it made or revoked."""

    def revoked(self, cause: RevocationCause, sessions: int = 1) -> None:
        """`sessions` sessions ended for `cause`."""

    def api_tokens(self, event: str, count: int = 1) -> None:
        """`count` API tokens made or revoked (verifier.observe.metrics.TOKEN_EVENTS)."""


class _NotCounted:
    """Metrics off, or no directory shared with the service."""

    def revoked(self, cause: RevocationCause, sessions: int = 1) -> None:
        """Do nothing (metrics off, or no shared directory)."""

    def api_tokens(self, event: str, count: int = 1) -> None:
        """Do nothing (metrics off, or no shared directory)."""


class _Counted:
    """The revocations counter in the service's multiprocess directory."""

    def __init__(self) -> None:
        # Imported only now: PROMETHEUS_MULTIPROC_DIR is set, so values go to the files.
        from prometheus_client import CollectorRegistry  # noqa: PLC0415

        from verifier.observe.metrics.prometheus import (  # noqa: PLC0415
            api_tokens_counter,
            revocations_counter,
        )

        registry = CollectorRegistry()
        self._counter = revocations_counter(registry)
        self._tokens = api_tokens_counter(registry)

    def revoked(self, cause: RevocationCause, sessions: int = 1) -> None:
        """Count into the service's directory at once (a command ends few sessions)."""
        if sessions:
            self._counter.labels(cause.value).inc(sessions)

    def api_tokens(self, event: str, count: int = 1) -> None:
        """Count into the service's directory at once."""
        if count:
            self._tokens.labels(event).inc(count)


def command_revocations(settings: MetricsSettings) -> RevocationCount:
    """The CLI's revocation count: into VERIFIER_METRICS_DIR when metrics are on and it is set."""
    if settings.metrics_bind is None or settings.metrics_dir is None:
        return _NotCounted()
    if not settings.metrics_dir.is_dir():
        # The service has not started yet (it creates the directory): nothing to add to.
        return _NotCounted()
    os.environ[MULTIPROC_ENV] = str(settings.metrics_dir)
    return _Counted()
