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


def test_spin_also_runs_the_quiet_valid_path_first() -> None:
    assert parse_options(["--only", "spin"]).scenarios == ("valid", "spin")


def test_flood_also_runs_the_quiet_valid_path_and_its_spin_control_first() -> None:
    assert parse_options(["--only", "flood"]).scenarios == ("valid", "spin", "flood")


def test_unknown_scenario_is_refused() -> None:
    with pytest.raises(SystemExit) as refused:
        parse_options(["--only", "spinning"])
    assert refused.value.code == 2


def _window(
    p99_ms: float, counters: dict[str, int] | None = None, requests: int = 1000
) -> WrkResult:
    return WrkResult(
        requests=requests,
        duration_seconds=10.0,
        p50_ms=p99_ms / 3,
        p90_ms=p99_ms / 2,
        p99_ms=p99_ms,
        mean_ms=p99_ms / 3,
        max_ms=p99_ms * 2,
        wrk_errors={},
        counters=counters or {},
    )


def _flood_and_spin(flood_p99_ms: float) -> dict[str, Measurement]:
    logins = _window(5000.0, {f"{STATUS_PREFIX}401": 90, f"{STATUS_PREFIX}503": 10})
    return {
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
            _window(flood_p99_ms),
            None,
            {
                "quiet_p99_ms": 1.5,
                "p99_vs_quiet": round(flood_p99_ms / 1.5, 2),
                "p99_vs_spin": round(flood_p99_ms / 4.5, 2),
                "logins": logins.to_json(),
            },
        ),
    }


def test_report_judges_the_flood_against_the_spin_control_and_shows_it_against_quiet() -> None:
    measurements = _flood_and_spin(flood_p99_ms=6.3)  # 1.4x the spin loop's p99, 4.2x quiet

    found = report.targets(measurements)
    flood_target = next(t for t in found if "login flood" in t.name)
    assert (flood_target.met, flood_target.measured) == (False, "1.40x (4.20x quiet)")

    text = report.render(measurements, {}, found, [])
    assert "spin loops: 1 (SCHED_IDLE; no verifier code): valid path p99 4.50 ms" in text
    assert "vs quiet p99 1.50 ms = 3.00x" in text
    assert "p99 6.30 ms vs quiet p99 1.50 ms = 4.20x" in text
    assert "vs the spin loops' p99: 1.40x" in text
    assert (
        "[MISSED] /auth p99 during the login flood <= 1.25x the spin control's p99: "
        "1.40x (4.20x quiet)"
    ) in text


def test_flood_far_above_quiet_but_close_to_the_spin_control_meets_its_target() -> None:
    # Any CPU work slows the saturated valid path; only what hashing adds on top counts.
    found = report.targets(_flood_and_spin(flood_p99_ms=5.4))  # 1.2x spin, 3.6x quiet

    (flood_target,) = [t for t in found if "login flood" in t.name]
    assert (flood_target.met, flood_target.measured) == (True, "1.20x (3.60x quiet)")


def _full_run(
    *, naive_rps: int, naive_p99: float, valid_rps: int, valid_p99: float, rotations_per_s: float
) -> dict[str, Measurement]:
    measurements = {
        "naive": Measurement("naive", "naive", _window(naive_p99, requests=naive_rps * 10), None),
        "valid": Measurement("valid", "valid", _window(valid_p99, requests=valid_rps * 10), None),
        "refresh": Measurement(
            "refresh",
            "refresh",
            _window(7.0, requests=int(rotations_per_s * 10)),
            None,
            {"rotations_per_s": rotations_per_s},
        ),
    }
    return {**measurements, **{k: v for k, v in _flood_and_spin(5.0).items() if k != "valid"}}


def test_targets_are_ratios_to_figures_of_the_same_run() -> None:
    # The slower machine of issue 9: 1,643 rotations/s read MISSED against 2,000/s, while
    # the refresh path held at 0.96x its own naive baseline.
    slow = _full_run(
        naive_rps=1712, naive_p99=12.0, valid_rps=15_000, valid_p99=6.5, rotations_per_s=1643
    )

    found = {t.name.split(" >=")[0].split(" <=")[0]: t for t in report.targets(slow)}

    assert set(found) == {
        "valid path",
        "valid path p99",
        "silent refresh",
        "/auth p99 during the login flood",
    }
    assert all(t.measured.split()[0].endswith("x") for t in found.values())
    assert (found["silent refresh"].met, found["silent refresh"].measured) == (True, "0.96x")
    # 6.5 ms is past the old absolute 5 ms, but it is 0.54x this machine's naive p99.
    assert (found["valid path p99"].met, found["valid path p99"].measured) == (True, "0.54x")
    assert (found["valid path"].met, found["valid path"].measured) == (True, "8.76x")


def test_refresh_below_three_quarters_of_the_naive_baseline_misses() -> None:
    run = _full_run(
        naive_rps=2700, naive_p99=8.0, valid_rps=23_000, valid_p99=1.6, rotations_per_s=1900
    )

    (refresh_target,) = [t for t in report.targets(run) if t.name.startswith("silent refresh")]

    assert (refresh_target.met, refresh_target.measured) == (False, "0.70x")


def test_access_also_runs_the_plain_valid_path_it_is_compared_with() -> None:
    assert parse_options(["--only", "access"]).scenarios == ("valid", "access")


@pytest.mark.parametrize(("access_requests", "met"), [(900, True), (899, False)])
def test_report_judges_the_access_path_against_the_valid_path_of_the_same_run(
    access_requests: int, met: bool
) -> None:
    measurements = {
        "valid": Measurement("valid", "valid", _window(1.5, requests=1000), None),
        "access": Measurement("access", "access", _window(1.6, requests=access_requests), None),
    }

    (target,) = report.targets(measurements)

    assert target.name.startswith("group rule + signed assertion >= 0.9x")
    assert target.met is met
    assert target.measured == f"{access_requests / 1000:.2f}x"


def test_metrics_also_runs_the_valid_path_with_metrics_off_it_is_compared_with() -> None:
    assert parse_options(["--only", "metrics"]).scenarios == ("valid", "metrics")


@pytest.mark.parametrize(("paired_ratio", "met"), [(0.95, True), (0.949, False)])
def test_report_judges_metrics_on_by_the_median_of_its_back_to_back_pairs(
    paired_ratio: float, met: bool
) -> None:
    # The valid scenario's own window is not what the target reads: it ran minutes earlier.
    measurements = {
        "valid": Measurement("valid", "valid", _window(1.5, requests=2000), None),
        "metrics": Measurement(
            "metrics",
            "metrics on",
            _window(1.6, requests=1000),
            None,
            {"vs_metrics_off": paired_ratio, "rounds": 3},
        ),
    }

    (target,) = report.targets(measurements)

    assert target.name.startswith("valid path with metrics on >= 0.95x")
    assert "median of 3 back-to-back pairs" in target.name
    assert target.met is met
    assert target.measured == f"{paired_ratio:.2f}x"


def test_the_token_scenario_measures_its_own_cookie_windows_and_needs_no_other() -> None:
    assert parse_options(["--only", "token"]).scenarios == ("token",)


@pytest.mark.parametrize(("paired_ratio", "met"), [(0.9, True), (0.899, False)])
def test_report_judges_the_token_path_by_the_median_of_its_pairs_with_the_cookie_path(
    paired_ratio: float, met: bool
) -> None:
    measurements = {
        "token": Measurement(
            "token",
            "valid API token",
            _window(1.6, requests=1000),
            None,
            {"vs_cookie": paired_ratio, "rounds": 3},
        ),
    }

    (target,) = report.targets(measurements)

    assert target.name.startswith("valid API token >= 0.9x the valid access cookie's")
    assert "median of 3 back-to-back pairs" in target.name
    assert target.met is met
    assert target.measured == f"{paired_ratio:.3f}x"


def test_the_report_states_the_token_paths_cost_against_the_cookie_paths_of_the_same_run() -> None:
    measurements = {
        "token": Measurement(
            "token",
            "valid API token",
            _window(1.6, requests=1000),
            None,
            {
                "rounds": 3,
                "vs_cookie": 0.931,
                "vs_cookie_each_round": [0.931, 0.884, 1.02],
                "verifier_cpu_us_per_request": 151.0,
                "cookie_verifier_cpu_us_per_request": 140.0,
                "cpu_per_request_vs_cookie": 1.079,
            },
        ),
    }

    text = report.render(measurements, {}, report.targets(measurements), [])

    assert (
        "token: the verifier's CPU per allowed check 151.0 µs with an API token, 140.0 µs with "
        "the access cookie = 1.08x; requests/s 0.93x (rounds 0.93x, 0.88x, 1.02x)"
    ) in text
    assert "[met] valid API token >= 0.9x" in text
