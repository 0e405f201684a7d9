"""The multiprocess directory and the exposition the gunicorn master serves.

`verifier serve` prepares the directory (empty, so no count of an earlier run survives) and
names it in PROMETHEUS_MULTIPROC_DIR for every process it starts; each worker writes its own
files there; the master sums them on every scrape (MultiProcessCollector) on
VERIFIER_METRICS_BIND, an address of its own that no nginx location proxies.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from pathlib import Path

from verifier.errors import SettingsError

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Marks a directory `verifier serve` made itself, which the master removes when it exits
# (a directory the operator named is only emptied, at the next start).
MADE_BY_SERVE = ".made-by-verifier-serve"
_DATA_FILES = "*.db"


def prepare_directory(configured: Path | None) -> Path:
    """The directory for this run: the configured one emptied of metric files, else a new one."""
    if configured is None:
        made = Path(tempfile.mkdtemp(prefix="verifier-metrics-"))
        (made / MADE_BY_SERVE).touch()
        return made
    try:
        configured.mkdir(parents=True, exist_ok=True)
        for stale in configured.glob(_DATA_FILES):
            stale.unlink()
    except OSError as error:
        raise SettingsError(
            f"VERIFIER_METRICS_DIR: cannot use {configured}: {error.strerror}"
        ) from error
    return configured


def remove_if_made_by_serve(directory: Path) -> None:
    """Remove the directory if `verifier serve` made it (at the master's exit)."""
    if (directory / MADE_BY_SERVE).exists():
        shutil.rmtree(directory, ignore_errors=True)


def check_bind_free(host: str, port: int) -> None:
    """Raise SettingsError if the metrics address cannot be listened on right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise SettingsError(
                f"VERIFIER_METRICS_BIND: cannot listen on {host}:{port}: {error.strerror}"
            ) from error


def serve_exposition(host: str, port: int, directory: Path) -> None:
    """Serve the sum of every process's metrics on host:port, from a daemon thread."""
    # Imported here: prometheus-client must see PROMETHEUS_MULTIPROC_DIR when first imported.
    from prometheus_client import CollectorRegistry, start_http_server  # noqa: PLC0415
    from prometheus_client.multiprocess import MultiProcessCollector  # noqa: PLC0415

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call, unused-ignore]
    start_http_server(port, addr=host, registry=registry)


def mark_worker_dead(pid: int, directory: Path) -> None:
    """Drop a dead worker's live gauges (its counters stay in the sums)."""
    from prometheus_client import multiprocess  # noqa: PLC0415

    with contextlib.suppress(FileNotFoundError):
        multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call, unused-ignore]


def configured_directory() -> Path | None:
    """The multiprocess directory this process was started with, if any."""
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None
