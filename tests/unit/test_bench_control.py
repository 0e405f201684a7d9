"""bench: the spin control runs at the lowest priority; scenarios pull in their reference."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import report
from bench.options import parse_options
from bench.scenarios import SPIN_SCRIPT, Measurement
from bench.wrk import STATUS_PREFIX, WrkResult


def test_spin_loop_runs_at_sched_idle_in_a_nice_19_autogroup_of_its_own() -> None:
    # Started as the benchmark starts it: in a new session, so the autogroup it lowers is its
    # own and not the test runner's.
    spinner = subprocess.Popen(
        [sys.executable, str(SPIN_SCRIPT), "30"],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert spinner.stdout is not None
        announced = spinner.stdout.readline()
        assert os.sched_getscheduler(spinner.pid) == os.SCHED_IDLE
        autogroup = Path(f"/proc/{spinner.pid}/autogroup")
        if autogroup.exists():  # absent on kernels without autogroups
            assert autogroup.read_text().rstrip().endswith("nice 19")
            assert autogroup.read_text() != Path("/proc/self/autogroup").read_text()
        assert announced.startswith("spin: ") and "SCHED_IDLE" in announced
    finally:
        spinner.kill()
        spinner.wait()


@pytest.mark.parametrize("scenario", ["spin", "flood"])
def test_background_scenarios_also_run_the_quiet_valid_path_first(scenario: str) -> None:
    assert parse_options(["--only", scenario]).scenarios == ("valid", scenario)


def test_unknown_scenario_is_refused() -> None:
    with pytest.raises(SystemExit) as refused:
        parse_options(["--only", "spinning"])
    assert refused.value.code == 2


def _window(p99_ms: float, counters: dict[str, int] | None = None) -> WrkResult:
    return WrkResult(
        requests=1000,
        duration_seconds=10.0,
        p50_ms=p99_ms / 3,
        p90_ms=p99_ms / 2,
        p99_ms=p99_ms,
        mean_ms=p99_ms / 3,
        max_ms=p99_ms * 2,
        wrk_errors={},
        counters=counters or {},
    )


def test_report_judges_the_flood_against_quiet_and_shows_it_against_the_spin_loop() -> None:
    logins = _window(5000.0, {f"{STATUS_PREFIX}401": 90, f"{STATUS_PREFIX}503": 10})
    measurements = {
        "valid": Measurement("valid", "valid", _window(1.5), None),
        "spin": Measurement(
            "spin",
            "spin",
            _window(4.5),
            None,
            {"quiet_p99_ms": 1.5, "p99_vs_quiet": 3.0, "spin_priority": "SCHED_IDLE"},
        ),
        "flood": Measurement(
            "flood",
            "flood",
            _window(3.6),
            None,
            {
                "quiet_p99_ms": 1.5,
                "p99_vs_quiet": 2.4,
                "p99_vs_spin": 0.8,
                "logins": logins.to_json(),
            },
        ),
    }
    found = report.targets(measurements)
    flood_target = next(t for t in found if "login flood" in t.name)
    assert (flood_target.met, flood_target.measured) == (False, "2.40x")

    text = report.render(measurements, {}, found, [])
    assert "spin loop (SCHED_IDLE; no verifier code): valid path p99 4.50 ms" in text
    assert "vs quiet p99 1.50 ms = 3.00x" in text
    assert "p99 3.60 ms vs quiet p99 1.50 ms = 2.40x" in text
    assert "vs the spin loop's p99: 0.80x" in text
    assert "[MISSED] /auth p99 during the login flood <= 2x quiet: 2.40x" in text
