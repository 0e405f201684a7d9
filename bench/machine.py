"""What the figures depend on: the machine, the versions, and the verifier's memory."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from verifier.demo import processes

_SOURCE_ROOT = Path(__file__).resolve().parents[1]
# Long enough to catch a busy neighbour, short enough not to matter in a run's wall time.
_BUSY_SAMPLE_SECONDS = 0.5
_PACKAGES = ("falcon", "gunicorn", "uvicorn", "uvicorn-worker", "redis", "hiredis", "PyJWT")


def machine_info(nginx: Path, wrk: Path) -> dict[str, Any]:
    """Machine, versions and source revision, for results.json."""
    return {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": _cpu_model(),
        "kernel": platform.release(),
        # Another busy process on a 2-core box moves every figure; these say if there was.
        # The load average lags by a minute (it still counts a run that just ended); the
        # sampled share of busy CPU time is what the box was doing right before the start.
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpu_busy_percent_before": cpu_busy_percent(),
        "python": platform.python_version(),
        "nginx": processes.nginx_version(nginx),
        "redis_server": _first_line([str(processes.find_redis_server()), "--version"]),
        "wrk": _first_line([str(wrk), "-v"]),
        "packages": {name: _package_version(name) for name in _PACKAGES},
        "git": _git_revision(),
    }


def cpu_busy_percent(seconds: float = _BUSY_SAMPLE_SECONDS) -> float | None:
    """Share of CPU time (all cores) spent not idle during `seconds`, from /proc/stat."""
    first = _cpu_times()
    time.sleep(seconds)
    second = _cpu_times()
    if first is None or second is None:
        return None
    total = sum(second) - sum(first)
    # Fields 4 and 5 of the "cpu" line are idle and iowait.
    idle = (second[3] + second[4]) - (first[3] + first[4])
    return round(100.0 * (total - idle) / total, 1) if total > 0 else None


def _cpu_times() -> list[int] | None:
    try:
        with Path("/proc/stat").open(encoding="ascii") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    return [int(value) for value in fields[1:]] if fields and fields[0] == "cpu" else None


def worker_rss_kib(master_pid: int) -> dict[int, int]:
    """VmRSS (KiB) of each child of a gunicorn master, by PID."""
    return {pid: rss for pid in _children(master_pid) if (rss := _rss_kib(pid)) is not None}


def _children(pid: int) -> list[int]:
    # /proc/PID/task/TID/children lists the children each thread forked; gunicorn forks
    # its workers from the main thread, but read them all to be safe.
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return sorted(set(found))


def _rss_kib(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None  # exited in between
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def _cpu_model() -> str | None:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in cpuinfo.splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return None


def _package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _first_line(argv: list[str]) -> str | None:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (result.stdout + result.stderr).strip().splitlines()
    return lines[0] if lines else None


def _git_revision() -> dict[str, Any] | None:
    # The verifier changes between runs: a result without its revision cannot be compared.
    try:
        head = subprocess.run(
            ["git", "-C", str(_SOURCE_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        changes = subprocess.run(
            ["git", "-C", str(_SOURCE_ROOT), "status", "--porcelain", "--", "verifier", "nginx"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head, "verifier_or_nginx_modified": bool(changes.strip())}
