"""`--redis all`: the same scenarios on standalone, Sentinel and Cluster, compared.

Each topology gets a stack of its own, started and stopped in turn, so the three never
share the CPU; each scenario's requests/s on Sentinel and on Cluster is divided by
standalone's of the same run. The target (issue 13): the valid path keeps >= 0.85x.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from bench.report import Target
from bench.scenarios import Check, Measurement

TARGET_VS_STANDALONE = 0.85
BASELINE = "standalone"
# Per topology, then per scenario.
Runs = Mapping[str, Mapping[str, Measurement]]


def ratio(runs: Runs, topology: str, scenario: str) -> float | None:
    """Requests/s of `scenario` on `topology` divided by standalone's."""
    base = runs.get(BASELINE, {}).get(scenario)
    found = runs.get(topology, {}).get(scenario)
    if base is None or found is None or not base.result.requests_per_second:
        return None
    return found.result.requests_per_second / base.result.requests_per_second


def targets(runs: Runs) -> list[Target]:
    """The valid path on each HA topology against standalone's."""
    found = []
    for topology in runs:
        if topology == BASELINE:
            continue
        value = ratio(runs, topology, "valid")
        if value is not None:
            found.append(
                Target(
                    f"valid path on {topology} requests/s >= {TARGET_VS_STANDALONE}x standalone's",
                    value >= TARGET_VS_STANDALONE,
                    f"{value:.2f}x",
                )
            )
    return found


def render(runs: Runs, found_targets: Sequence[Target], checks: Sequence[Check]) -> str:
    """The comparison table, the Redis commands per request, the targets and the checks."""
    lines = [
        "| topology | scenario | req/s | p99 ms | vs standalone | others' CPU | "
        "verifier CPU µs/request | Redis commands per request |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for topology, measurements in runs.items():
        for scenario, measurement in measurements.items():
            value = ratio(runs, topology, scenario)
            commands = measurement.extra.get("redis_commands_per_request", {})
            others = measurement.others_cpu_percent
            # Far less moved by other processes than requests/s (valid only).
            cpu_us = measurement.extra.get("verifier_cpu_us_per_request")
            lines.append(
                f"| {topology} | {scenario} | {measurement.result.requests_per_second:,.0f} | "
                f"{measurement.result.p99_ms:.2f} | "
                f"{'-' if value is None else f'{value:.2f}x'} | "
                f"{'-' if others is None else f'{others:.0f}%'} | "
                f"{'-' if cpu_us is None else f'{cpu_us:.1f}'} | "
                f"{_commands(commands)} |"
            )
    lines.append("")
    for target in found_targets:
        lines.append(
            f"target: {target.name}: {target.measured} {'met' if target.met else 'MISSED'}"
        )
    for check in checks:
        lines.append(f"check: {check.name}: {'ok' if check.ok else 'FAILED'} ({check.detail})")
    return "\n".join(lines)


def _commands(commands: Mapping[str, float]) -> str:
    return ", ".join(f"{name} {calls:g}" for name, calls in commands.items()) or "none"


def results_json(
    *,
    machine: Mapping[str, Any],
    options: Mapping[str, Any],
    runs: Runs,
    found_targets: Sequence[Target],
    checks: Sequence[Check],
    wall_time_seconds: float,
) -> dict[str, Any]:
    """Everything of the comparison run, JSON-ready."""
    topologies: dict[str, Any] = {}
    for topology, measurements in runs.items():
        topologies[topology] = {
            scenario: {
                "title": measurement.title,
                **measurement.result.to_json(),
                "ratio_vs_standalone": _rounded(ratio(runs, topology, scenario)),
                "others_cpu_percent": measurement.others_cpu_percent,
                **measurement.extra,
            }
            for scenario, measurement in measurements.items()
        }
    return {
        "machine": dict(machine),
        "options": dict(options),
        "topologies": topologies,
        "targets": [asdict(target) for target in found_targets],
        "checks": [asdict(check) for check in checks],
        "wall_time_s": round(wall_time_seconds, 1),
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
