"""gunicorn server hooks (`--config python:verifier.service.gunicorn_hooks`): the Unix
sockets' group and mode, and the metrics.

`verifier serve` always passes this module; with metrics on, it has set
PROMETHEUS_MULTIPROC_DIR first. Only the master runs these hooks; it never counts anything
itself (the app is not preloaded), so no file of its own skews the sums.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from verifier.observe.metrics.exposition import (
    configured_directory,
    mark_worker_dead,
    remove_if_made_by_serve,
    serve_exposition,
)
from verifier.service.binds import configured_group, restrict_all
from verifier.settings import load_settings


def when_ready(server: Any) -> None:
    """The master listens and has forked no worker yet: nobody has connected.

    Open the Unix sockets to the group `verifier serve` was given (gunicorn bound them owner
    only), then start the metrics exposition.
    """
    unix_paths = [
        listener.cfg_addr for listener in server.LISTENERS if listener.FAMILY == socket.AF_UNIX
    ]
    for path in restrict_all(unix_paths, configured_group(os.environ)):
        server.log.info("listening at unix:%s, mode %o", path, path.stat().st_mode & 0o777)
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
