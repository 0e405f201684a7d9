"""Run wrk and read the JSON line its Lua done() prints (bench/lua/report.lua)."""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LUA_DIR = Path(__file__).resolve().parent / "lua"
_JSON_MARKER = "BENCH_JSON "
# The Lua scripts count responses per HTTP status under these keys: status_200, status_401...
STATUS_PREFIX = "status_"
# Past the run's own duration: wrk needs a moment to connect, drain and print.
_EXIT_GRACE_SECONDS = 30.0


class WrkFailed(RuntimeError):
    """wrk exited with an error or printed no report; carries its output."""

    def __init__(self, argv: Sequence[str], reason: str, output: str) -> None:
        super().__init__(f"{' '.join(argv)}: {reason}\n--- wrk's output ---\n{output}")
        self.output = output


def find_wrk() -> Path:
    """Return wrk from PATH; the Debian package is `wrk`."""
    found = shutil.which("wrk")
    if found is None:
        raise FileNotFoundError("wrk not found: apt-get install wrk")
    return Path(found)


@dataclass(frozen=True)
class WrkJob:
    """One wrk invocation."""

    url: str
    script: str  # file name under bench/lua/
    connections: int
    threads: int
    duration_seconds: int
    headers: Mapping[str, str] = field(default_factory=dict)
    script_args: Sequence[str] = ()
    # Generous, so a slow answer (a queued login) is a latency sample, not a lost request:
    # wrk leaves timed-out requests out of its latency figures.
    timeout_seconds: int = 10

    def argv(self, wrk: Path) -> list[str]:
        """The command line."""
        argv = [
            str(wrk),
            "--connections", str(self.connections),
            "--threads", str(self.threads),
            "--duration", f"{self.duration_seconds}s",
            "--timeout", f"{self.timeout_seconds}s",
            "--script", str(LUA_DIR / self.script),
        ]  # fmt: skip
        for name, value in self.headers.items():
            argv += ["--header", f"{name}: {value}"]
        argv.append(self.url)
        if self.script_args:
            argv += ["--", *self.script_args]
        return argv


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured; latencies in milliseconds."""

    requests: int
    duration_seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    wrk_errors: dict[str, int]
    counters: dict[str, int]

    @property
    def requests_per_second(self) -> float:
        """Completed requests per second of the run."""
        return self.requests / self.duration_seconds if self.duration_seconds else 0.0

    @property
    def statuses(self) -> dict[int, int]:
        """How many responses had each HTTP status (counted by the script's response())."""
        return {
            int(key.removeprefix(STATUS_PREFIX)): count
            for key, count in self.counters.items()
            if key.startswith(STATUS_PREFIX)
        }

    @property
    def non_2xx(self) -> int:
        """Responses whose status was not 2xx."""
        return sum(count for status, count in self.statuses.items() if not 200 <= status < 300)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready record."""
        return {
            "requests": self.requests,
            "duration_s": round(self.duration_seconds, 3),
            "requests_per_s": round(self.requests_per_second, 1),
            "latency_ms": {
                "p50": self.p50_ms,
                "p90": self.p90_ms,
                "p99": self.p99_ms,
                "mean": round(self.mean_ms, 3),
                "max": self.max_ms,
            },
            "statuses": {str(status): count for status, count in sorted(self.statuses.items())},
            "non_2xx": self.non_2xx,
            "wrk_errors": self.wrk_errors,
            "counters": {
                key: value
                for key, value in self.counters.items()
                if not key.startswith(STATUS_PREFIX)
            },
        }


class RunningWrk:
    """A wrk started in the background (for two at once); finish() waits for its report."""

    def __init__(self, wrk: Path, job: WrkJob) -> None:
        self._job = job
        self._argv = job.argv(wrk)
        self._popen = subprocess.Popen(
            self._argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def finish(self) -> WrkResult:
        """Wait for the run to end and parse its report; raise WrkFailed if there is none."""
        try:
            output, _ = self._popen.communicate(
                timeout=self._job.duration_seconds + _EXIT_GRACE_SECONDS
            )
        except subprocess.TimeoutExpired:
            self.stop()
            raise WrkFailed(self._argv, "did not finish", "") from None
        if self._popen.returncode != 0:
            raise WrkFailed(self._argv, f"exited with {self._popen.returncode}", output)
        return parse_report(self._argv, output)

    def stop(self) -> None:
        """Stop wrk by its PID if it still runs (on an error or Ctrl-C elsewhere)."""
        if self._popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self._popen.send_signal(signal.SIGTERM)
            try:
                self._popen.wait(5)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait()


def run(wrk: Path, job: WrkJob) -> WrkResult:
    """Run one wrk job in the foreground."""
    running = RunningWrk(wrk, job)
    try:
        return running.finish()
    finally:
        running.stop()


def parse_report(argv: Sequence[str], output: str) -> WrkResult:
    """Build a WrkResult from the BENCH_JSON line of wrk's output."""
    lines = [line for line in output.splitlines() if line.startswith(_JSON_MARKER)]
    if not lines:
        raise WrkFailed(argv, "printed no BENCH_JSON line", output)
    report = json.loads(lines[-1].removeprefix(_JSON_MARKER))
    latency = report["latency_us"]

    def ms(key: str) -> float:
        value = latency.get(key)
        return round(float(value) / 1000.0, 3) if value is not None else 0.0

    return WrkResult(
        requests=int(report["requests"]),
        duration_seconds=float(report["duration_us"]) / 1e6,
        p50_ms=ms("p50"),
        p90_ms=ms("p90"),
        p99_ms=ms("p99"),
        mean_ms=ms("mean"),
        max_ms=ms("max"),
        wrk_errors={key: int(value) for key, value in report["errors"].items()},
        counters={key: int(value) for key, value in report.get("counters", {}).items()},
    )
