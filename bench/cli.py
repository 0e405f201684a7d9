"""`python -m bench`: start the stack, run the scenarios, print and save the results."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from bench import compare, report
from bench.client import LoginFailed
from bench.machine import machine_info, worker_rss_kib
from bench.options import Options, parse_options
from bench.probes import BenchError
from bench.scenarios import Measurement, ScenarioRunner
from bench.stack import BenchStack
from bench.topology import TOPOLOGIES
from bench.wrk import WrkFailed, find_wrk
from verifier.demo import processes
from verifier.demo.processes import CommandFailed, ProcessStartError

# Above this, another process competes with the stack for the CPU.
_BUSY_WARNING_PERCENT = 15.0
_FAILURES = (
    BenchError,
    CommandFailed,
    FileNotFoundError,
    LoginFailed,
    PermissionError,
    ProcessStartError,
    WrkFailed,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 when every required check passed (targets do not count)."""
    options = parse_options(argv)
    # SIGTERM unwinds like Ctrl-C, so the finally blocks stop every process by PID.
    signal.signal(signal.SIGTERM, _raise_terminated)
    workdir = Path(tempfile.mkdtemp(prefix="verifier-bench-"))
    # The processes' logs are worth keeping only when something went wrong.
    keep_workdir = True
    try:
        status = _run(options, workdir)
        keep_workdir = status != 0
        return status
    except _FAILURES as error:
        print(f"\nbench: {error}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, _Terminated) as stop:
        keep_workdir = False
        print("\nbench: interrupted; every process is stopped", file=sys.stderr)
        return 128 + (stop.signum if isinstance(stop, _Terminated) else signal.SIGINT)
    finally:
        if keep_workdir and any(workdir.iterdir()):
            print(f"bench: logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _run(options: Options, workdir: Path) -> int:
    started = time.monotonic()
    wrk = find_wrk()
    # Taken before the stack starts: the load average then is somebody else's work.
    machine = machine_info(processes.find_nginx(), wrk)
    busy = machine["cpu_busy_percent_before"]
    print(
        f"bench: {machine['nproc']} CPUs ({busy}% busy before start), "
        f"nginx {machine['nginx']}, Redis {options.redis}, {options.workers} verifier workers, "
        f"{options.connections} connections, {options.warmup_seconds} s warm-up + "
        f"{options.duration_seconds} s per scenario",
        flush=True,
    )
    if busy is not None and busy > _BUSY_WARNING_PERCENT:
        print(
            "bench: warning: something else is using the CPU; every figure will be lower "
            "and noisier than on an idle machine",
            flush=True,
        )
    if options.redis == "all" or options.compare_replica_ack:
        return _compare(options, workdir, wrk, machine, started)
    measurements: dict[str, Measurement] = {}
    with BenchStack(workdir, options.workers, options.redis) as stack:
        runner = ScenarioRunner(options, stack, wrk, workdir)
        _run_scenarios(options, runner, measurements)
        # While the workers still run: their memory after serving every scenario.
        rss_kib = worker_rss_kib(stack.verifier.pid)
    found_targets = report.targets(measurements)
    print()
    print(report.render(measurements, rss_kib, found_targets, runner.checks))
    results = report.results_json(
        machine=machine,
        options=_options_json(options),
        measurements=measurements,
        rss_kib=rss_kib,
        found_targets=found_targets,
        checks=runner.checks,
        wall_time_seconds=time.monotonic() - started,
    )
    report.write_json(options.output, results)
    print(f"\nresults: {options.output} (wall time {results['wall_time_s']:.0f} s)")
    failed = [check for check in runner.checks if check.required and not check.ok]
    return 1 if failed else 0


def _run_scenarios(
    options: Options, runner: ScenarioRunner, measurements: dict[str, Measurement]
) -> None:
    for name in options.scenarios:
        print(f"  {name} ...", end="", flush=True)
        measurement = runner.run(name)
        measurements[name] = measurement
        result = measurement.result
        print(f" {result.requests_per_second:,.0f} req/s, p99 {result.p99_ms:.2f} ms", flush=True)


@dataclasses.dataclass(frozen=True)
class Variant:
    """One stack of a comparison: its label, its Redis topology and its own settings."""

    label: str
    topology: str
    settings: dict[str, str] = dataclasses.field(default_factory=dict)


def variants(options: Options) -> tuple[list[Variant], str]:
    """The stacks a comparison run measures, and the label of its baseline."""
    if options.compare_replica_ack:
        compared = [
            Variant(
                f"{options.redis}, min replicas {count}",
                options.redis,
                {"VERIFIER_REDIS_MIN_REPLICAS": str(count)},
            )
            for count in (0, 1)
        ]
        return compared, compared[0].label
    return [Variant(topology, topology) for topology in TOPOLOGIES], compare.BASELINE


def _compare(
    options: Options, workdir: Path, wrk: Path, machine: dict[str, Any], started: float
) -> int:
    # Every variant's stack runs for the whole comparison and they take turns, round after
    # round, each round in a rotated order: the machine's drift over minutes falls on all
    # alike instead of on whichever ran last (bench/compare.py).
    compared, baseline = variants(options)
    runs: dict[str, dict[str, list[Measurement]]] = {}
    runners: dict[str, ScenarioRunner] = {}
    # nginx's workers (user nobody) must pass through it to each variant's prefix.
    workdir.chmod(0o755)
    with contextlib.ExitStack() as stacks:
        for index, variant in enumerate(compared):
            print(f" {variant.label}: starting", flush=True)
            variant_dir = workdir / f"variant-{index}"
            variant_dir.mkdir()
            stack = stacks.enter_context(
                BenchStack(variant_dir, options.workers, variant.topology, variant.settings)
            )
            runners[variant.label] = ScenarioRunner(options, stack, wrk, variant_dir)
            runs[variant.label] = {name: [] for name in options.scenarios}
        for round_index in range(compare.ROUNDS):
            turn = compared[round_index % len(compared) :] + compared[: round_index % len(compared)]
            for variant in turn:
                print(f" round {round_index + 1}, {variant.label}:", flush=True)
                measured: dict[str, Measurement] = {}
                _run_scenarios(options, runners[variant.label], measured)
                for name, measurement in measured.items():
                    runs[variant.label][name].append(measurement)
    checks = [
        dataclasses.replace(check, name=f"{label}: {check.name}")
        for label, runner in runners.items()
        for check in runner.checks
    ]
    # The >= 0.85x target is the HA topologies' against standalone; waiting for a replica
    # is a price stated, not a target.
    found_targets = [] if options.compare_replica_ack else compare.targets(runs)
    print()
    print(compare.render(runs, found_targets, checks, baseline))
    results = compare.results_json(
        machine=machine,
        options=_options_json(options),
        runs=runs,
        found_targets=found_targets,
        checks=checks,
        wall_time_seconds=time.monotonic() - started,
        baseline=baseline,
    )
    report.write_json(options.output, results)
    print(f"\nresults: {options.output} (wall time {results['wall_time_s']:.0f} s)")
    return 1 if any(check.required and not check.ok for check in checks) else 0


def _options_json(options: Options) -> dict[str, Any]:
    return {
        field.name: str(value) if isinstance(value, Path) else value
        for field in dataclasses.fields(options)
        if (value := getattr(options, field.name)) is not None
    }


class _Terminated(Exception):
    """SIGTERM arrived."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated(signum)
