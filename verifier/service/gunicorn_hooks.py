"""gunicorn server hooks for metrics (`--config python:verifier.service.gunicorn_hooks`).

`verifier serve` passes this module only with metrics on, after it has set
PROMETHEUS_MULTIPROC_DIR. Only the master runs these hooks; it never counts anything itself
(the app is not preloaded), so no file of its own skews the sums.
"""

from __future__ import annotations

import os
from typing import Any

from verifier.observe.metrics.exposition import (
    configured_directory,
    mark_worker_dead,
    remove_if_made_by_serve,
    serve_exposition,
)
from verifier.settings import load_settings


def when_ready(server: Any) -> None:
    """Start the exposition once the master listens (before it forks any worker)."""
    settings = load_settings(os.environ)
    directory = configured_directory()
    if settings.metrics_bind is None or directory is None:
        return
    host, port = settings.metrics_bind
    serve_exposition(host, port, directory)
    server.log.info("metrics at http://%s:%d/metrics", host, port)


def child_exit(server: Any, worker: Any) -> None:
    """A worker exited: its live gauges (the revocation channel) must not count any more."""
    directory = configured_directory()
    if directory is not None:
        mark_worker_dead(worker.pid, directory)


def on_exit(server: Any) -> None:
    """The master is exiting: remove the directory if `verifier serve` made it."""
    directory = configured_directory()
    if directory is not None:
        remove_if_made_by_serve(directory)
