"""bench: the spin control runs at the lowest priority; scenarios pull in their reference."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.options import parse_options
from bench.scenarios import SPIN_SCRIPT


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
