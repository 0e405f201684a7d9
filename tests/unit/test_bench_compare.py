"""bench --redis: the options, and the comparison of each topology with standalone."""

from __future__ import annotations

import pytest

from bench import compare
from bench.options import parse_options
from bench.scenarios import Measurement
from bench.wrk import WrkResult


def _measured(name: str, requests: int) -> Measurement:
    result = WrkResult(
        requests=requests,
        duration_seconds=10.0,
        p50_ms=1.0,
        p90_ms=1.5,
        p99_ms=2.0,
        mean_ms=1.0,
        max_ms=4.0,
        wrk_errors={},
        counters={},
    )
    extra = {"redis_commands_per_request": {"evalsha": 1.0}, "verifier_cpu_us_per_request": 61.5}
    return Measurement(name, name, result, 3.0, extra)


def test_redis_option_defaults_to_standalone_and_all_runs_valid_and_refresh() -> None:
    assert parse_options([]).redis == "standalone"
    assert parse_options(["--redis", "cluster"]).redis == "cluster"
    compared = parse_options(["--redis", "all"])
    assert compared.scenarios == ("valid", "refresh")
    assert parse_options(["--redis", "all", "--only", "login"]).scenarios == ("login",)


def test_unknown_redis_topology_is_refused() -> None:
    with pytest.raises(SystemExit) as refused:
        parse_options(["--redis", "memcached"])
    assert refused.value.code == 2


def test_each_topology_is_compared_with_standalone_round_by_round_against_the_085_target() -> None:
    # The machine drifts between rounds; each round's ratio is taken within the round.
    runs = {
        "standalone": {"valid": [_measured("valid", n) for n in (100_000, 50_000, 80_000)]},
        "sentinel": {"valid": [_measured("valid", n) for n in (90_000, 46_000, 60_000)]},
        "cluster": {"valid": [_measured("valid", n) for n in (80_000, 40_000, 72_000)]},
    }

    found = compare.targets(runs)

    # Sentinel 0.90, 0.92, 0.75 -> median 0.90; Cluster 0.80, 0.80, 0.90 -> median 0.80.
    assert [(target.met, target.measured) for target in found] == [
        (True, "0.90x"),
        (False, "0.80x"),
    ]
    assert compare.ratio(runs, "standalone", "valid") == 1.0
    assert compare.ratio(runs, "cluster", "refresh") is None
    results = compare.results_json(
        machine={}, options={}, runs=runs, found_targets=found, checks=[], wall_time_seconds=1.0
    )
    sentinel = results["topologies"]["sentinel"]["valid"]
    assert results["baseline"] == "standalone"
    assert sentinel["ratio_vs_baseline"] == 0.9
    assert sentinel["round_ratios_vs_baseline"] == [0.9, 0.92, 0.75]
    assert [r["requests"] for r in sentinel["rounds"]] == [90_000, 46_000, 60_000]
    assert results["topologies"]["cluster"]["valid"]["rounds"][0]["redis_commands_per_request"] == {
        "evalsha": 1.0
    }
    table = compare.render(runs, found, [])
    assert "| cluster | valid | 7,200 | 2.00 | 0.80x | 0.80 / 0.80 / 0.90 | 3% | 61.5 |" in table
    assert "cluster requests/s >= 0.85x standalone's: 0.80x MISSED" in table


def test_a_round_missing_for_standalone_is_left_out_of_the_ratio() -> None:
    runs = {
        "standalone": {"valid": [_measured("valid", 100_000)]},
        "sentinel": {"valid": [_measured("valid", 95_000), _measured("valid", 10_000)]},
    }
    assert compare.round_ratios(runs, "sentinel", "valid") == [0.95]


def test_replica_ack_comparison_needs_an_ha_topology_and_runs_valid_and_refresh() -> None:
    compared = parse_options(["--redis", "sentinel", "--compare-replica-ack"])
    assert compared.compare_replica_ack
    assert compared.scenarios == ("valid", "refresh")
    with pytest.raises(SystemExit) as refused:
        parse_options(["--compare-replica-ack"])
    assert refused.value.code == 2


def test_variants_are_compared_with_the_baseline_named() -> None:
    runs = {
        "sentinel, min replicas 0": {"refresh": [_measured("refresh", n) for n in (100, 80)]},
        "sentinel, min replicas 1": {"refresh": [_measured("refresh", n) for n in (90, 60)]},
    }
    baseline = "sentinel, min replicas 0"
    assert compare.round_ratios(runs, "sentinel, min replicas 1", "refresh", baseline) == [
        0.9,
        0.75,
    ]
    table = compare.render(runs, [], [], baseline)
    assert "vs sentinel, min replicas 0 (median)" in table
    assert "| sentinel, min replicas 1 | refresh | 8 | 2.00 | 0.82x | 0.90 / 0.75 |" in table
