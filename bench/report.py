"""Turn measurements into the terminal table, the target verdicts and results JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.scenarios import Check, Measurement

# The targets, every one a ratio of two figures of the same run: absolute rates and
# latencies move with the machine (and with whatever else it runs), ratios far less. The
# first three are issue 4's absolute goals restated against the naive baseline, as they
# stood on the development machine (5 ms against its 8.25 ms p99, 2,000 rotations/s against
# its 2,697 req/s); the flood is judged against the spin control, CPU work of the same
# priority that runs none of our code.
TARGET_VS_NAIVE = 4.0
TARGET_P99_VS_NAIVE = 0.6
TARGET_REFRESH_VS_NAIVE = 0.75
TARGET_FLOOD_P99_VS_SPIN = 1.25
# Issue 10: a location that requires a group and forwards a signed assertion keeps this
# share of the plain valid path's requests/s.
TARGET_ACCESS_VS_VALID = 0.9
# Issue 12: the valid path with metrics on keeps this share of its requests/s with them off.
TARGET_METRICS_VS_VALID = 0.95
# Issue 24: the valid path with an API token keeps this share of the cookie path's
# requests/s (both on the same verifier, back to back).
TARGET_TOKEN_VS_COOKIE = 0.9
# Issue 22: the valid path of a host-bound token (single sign-on) keeps this share of today's.
TARGET_SSO_VS_VALID = 0.95
# Issue 27: the /auth fast path against the ASGI route, and the valid path (fast path, Unix
# socket) against the floor (nginx answering the check itself), both in the same run.
TARGET_FAST_PATH_VS_ASGI = 1.4
TARGET_VALID_VS_FLOOR = 0.42
# Past this share of the CPU taken by other processes, a window's figures are suspect.
OTHERS_CPU_WARNING_PERCENT = 5.0


@dataclass(frozen=True)
class Target:
    """One goal, a ratio within this run, and whether this run met it."""

    name: str
    met: bool
    measured: str


def ratios(measurements: Mapping[str, Measurement], name: str) -> tuple[float | None, ...]:
    """Requests/s of scenario `name` divided by the floor's and by the naive baseline's."""
    rate = measurements[name].result.requests_per_second
    found: list[float | None] = []
    for reference in ("floor", "naive"):
        base = measurements.get(reference)
        base_rate = base.result.requests_per_second if base is not None else 0.0
        found.append(rate / base_rate if base_rate else None)
    return tuple(found)


def targets(measurements: Mapping[str, Measurement]) -> list[Target]:
    """The targets whose scenarios (and reference scenarios) ran."""
    found: list[Target] = []
    valid, naive = measurements.get("valid"), measurements.get("naive")
    if valid is not None and naive is not None:
        vs_naive = ratios(measurements, "valid")[1]
        if vs_naive is not None:
            found.append(
                Target(
                    f"valid path >= {TARGET_VS_NAIVE:g}x the naive baseline's requests/s",
                    vs_naive >= TARGET_VS_NAIVE,
                    f"{vs_naive:.2f}x",
                )
            )
        if naive.result.p99_ms:
            p99_ratio = valid.result.p99_ms / naive.result.p99_ms
            found.append(
                Target(
                    f"valid path p99 <= {TARGET_P99_VS_NAIVE:g}x the naive baseline's p99",
                    p99_ratio <= TARGET_P99_VS_NAIVE,
                    f"{p99_ratio:.2f}x",
                )
            )
    access = measurements.get("access")
    if access is not None and valid is not None and valid.result.requests_per_second:
        access_ratio = access.result.requests_per_second / valid.result.requests_per_second
        found.append(
            Target(
                f"group rule + signed assertion >= {TARGET_ACCESS_VS_VALID:g}x the valid "
                "path's requests/s",
                access_ratio >= TARGET_ACCESS_VS_VALID,
                f"{access_ratio:.2f}x",
            )
        )
    metrics = measurements.get("metrics")
    # The metrics scenario measures its own off/on pairs back to back (bench/scenarios.py)
    # and reports the median of their ratios.
    metrics_ratio = metrics.extra.get("vs_metrics_off") if metrics is not None else None
    if metrics is not None and metrics_ratio is not None:
        rounds = metrics.extra.get("rounds", 1)
        found.append(
            Target(
                f"valid path with metrics on >= {TARGET_METRICS_VS_VALID:g}x its requests/s "
                f"with metrics off (median of {rounds} back-to-back pairs)",
                metrics_ratio >= TARGET_METRICS_VS_VALID,
                f"{metrics_ratio:.2f}x",
            )
        )
    token = measurements.get("token")
    token_ratio = token.extra.get("vs_cookie") if token is not None else None
    if token is not None and token_ratio is not None:
        rounds = token.extra.get("rounds", 1)
        found.append(
            Target(
                f"valid API token >= {TARGET_TOKEN_VS_COOKIE:g}x the valid access cookie's "
                f"requests/s (median of {rounds} back-to-back pairs)",
                token_ratio >= TARGET_TOKEN_VS_COOKIE,
                # Three digits: 0.897 must not read as the 0.90 it would round to.
                f"{token_ratio:.3f}x",
            )
        )
    sso = measurements.get("sso")
    sso_ratio = sso.extra.get("vs_without_sso") if sso is not None else None
    if sso is not None and sso_ratio is not None:
        found.append(
            Target(
                f"valid path with the host binding (single sign-on) >= {TARGET_SSO_VS_VALID:g}x "
                f"today's requests/s (median of {sso.extra.get('rounds', 1)} back-to-back pairs)",
                sso_ratio >= TARGET_SSO_VS_VALID,
                f"{sso_ratio:.2f}x",
            )
        )
    found += _fast_path_targets(measurements)
    refresh = measurements.get("refresh")
    if refresh is not None and naive is not None and naive.result.requests_per_second:
        refresh_ratio = float(refresh.extra["rotations_per_s"]) / naive.result.requests_per_second
        found.append(
            Target(
                f"silent refresh >= {TARGET_REFRESH_VS_NAIVE:g}x the naive baseline "
                "(rotations/s against its requests/s)",
                refresh_ratio >= TARGET_REFRESH_VS_NAIVE,
                f"{refresh_ratio:.2f}x",
            )
        )
    flood = measurements.get("flood")
    if flood is not None and flood.extra.get("p99_vs_spin") is not None:
        vs_spin = float(flood.extra["p99_vs_spin"])
        vs_quiet = flood.extra.get("p99_vs_quiet")
        found.append(
            Target(
                f"/auth p99 during the login flood <= {TARGET_FLOOD_P99_VS_SPIN:g}x "
                "the spin control's p99",
                vs_spin <= TARGET_FLOOD_P99_VS_SPIN,
                f"{vs_spin:.2f}x" + ("" if vs_quiet is None else f" ({_ratio(vs_quiet)} quiet)"),
            )
        )
    return found


def render(
    measurements: Mapping[str, Measurement],
    rss_kib: Mapping[int, int],
    found_targets: Sequence[Target],
    checks: Sequence[Check],
) -> str:
    """The human-readable report."""
    lines = [_table(measurements), ""]
    disturbed = [
        f"{name} {m.others_cpu_percent:.0f}%"
        for name, m in measurements.items()
        if m.others_cpu_percent is not None and m.others_cpu_percent > OTHERS_CPU_WARNING_PERCENT
    ]
    if disturbed:
        lines += [
            f"warning: other processes used the CPU during {', '.join(disturbed)}: those "
            "figures are low and noisy; run again on a quiet machine",
            "",
        ]
    metrics = measurements.get("metrics")
    if metrics is not None and metrics.extra.get("cpu_per_request_vs_metrics_off") is not None:
        extra = metrics.extra
        lines.append(
            f"metrics: the verifier's CPU per allowed check {extra['verifier_cpu_us_per_request']} "
            f"µs on, {extra['metrics_off_verifier_cpu_us_per_request']} µs off = "
            f"{_ratio(extra['cpu_per_request_vs_metrics_off'])} (less noisy than requests/s)"
        )
    token = measurements.get("token")
    if token is not None and token.extra.get("cpu_per_request_vs_cookie") is not None:
        extra = token.extra
        lines.append(
            f"token: the verifier's CPU per allowed check {extra['verifier_cpu_us_per_request']} "
            f"µs with an API token, {extra['cookie_verifier_cpu_us_per_request']} µs with the "
            f"access cookie = {_ratio(extra['cpu_per_request_vs_cookie'])}; requests/s "
            f"{_ratio(extra['vs_cookie'])} (rounds "
            f"{', '.join(_ratio(r) for r in extra['vs_cookie_each_round'])})"
        )
    sso = measurements.get("sso")
    if sso is not None and sso.extra.get("cpu_per_request_vs_without_sso") is not None:
        extra = sso.extra
        lines.append(
            "single sign-on: the verifier's CPU per allowed check "
            f"{extra['verifier_cpu_us_per_request']} µs with the host binding, "
            f"{extra['without_sso_verifier_cpu_us_per_request']} µs without = "
            f"{_ratio(extra['cpu_per_request_vs_without_sso'])}"
        )
    refresh = measurements.get("refresh")
    if refresh is not None:
        extra = refresh.extra
        lines.append(
            f"silent refresh: {extra['rotations_per_s']:,.0f} rotations/s "
            f"({extra['lost_sessions']} lost sessions, "
            f"{extra['requests_without_token']} requests sent without a token)"
        )
    spin = measurements.get("spin")
    if spin is not None:
        lines.append(
            f"spin loops: {spin.extra.get('spin_loops', 1)} "
            f"({spin.extra['spin_priority']}; no verifier code): valid path "
            f"{_p99_vs_quiet(spin)}"
        )
    flood = measurements.get("flood")
    if flood is not None:
        logins = flood.extra["logins"]
        statuses = ", ".join(f"{status}: {n:,}" for status, n in logins["statuses"].items())
        lines += [
            f"login flood: {logins['requests_per_s']:,.0f} wrong-password logins/s "
            f"(statuses {statuses or 'none'}; their p99 {logins['latency_ms']['p99']:,.0f} ms)",
            f"  valid path meanwhile: p50 {flood.result.p50_ms:.2f} ms, {_p99_vs_quiet(flood)}",
        ]
        if flood.extra.get("p99_vs_spin") is not None:
            lines.append(
                f"  and vs the spin loops' p99: {_ratio(flood.extra['p99_vs_spin'])} "
                "(1x: hashing disturbs /auth no more than any background CPU work does)"
            )
    if rss_kib:
        workers = ", ".join(f"pid {pid} {kib / 1024:.1f} MiB" for pid, kib in rss_kib.items())
        lines.append(f"verifier RSS per worker after the run: {workers}")
    if found_targets:
        lines += ["", "targets (ratios within this run):"]
        lines += [
            f"  [{'met' if t.met else 'MISSED'}] {t.name}: {t.measured}" for t in found_targets
        ]
    lines += ["", "checks:"]
    for check in checks:
        verdict = "ok" if check.ok else ("FAILED" if check.required else "warning")
        lines.append(f"  [{verdict}] {check.name}: {check.detail}")
    return "\n".join(lines)


def _table(measurements: Mapping[str, Measurement]) -> str:
    header = (
        "scenario",
        "req/s",
        "p50 ms",
        "p99 ms",
        "non-2xx",
        "vs floor",
        "vs naive",
        "others' CPU",
    )
    rows = [header]
    for name, measurement in measurements.items():
        result = measurement.result
        vs_floor, vs_naive = ratios(measurements, name)
        rows.append(
            (
                measurement.title,
                f"{result.requests_per_second:,.0f}",
                f"{result.p50_ms:.2f}",
                f"{result.p99_ms:.2f}",
                f"{result.non_2xx:,}",
                _ratio(vs_floor),
                _ratio(vs_naive),
                _percent(measurement.others_cpu_percent),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    rendered = []
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        rendered.append("  ".join(cells))
        if index == 0:
            rendered.append("  ".join("-" * width for width in widths))
    return "\n".join(rendered)


def _p99_vs_quiet(measurement: Measurement) -> str:
    extra = measurement.extra
    return (
        f"p99 {measurement.result.p99_ms:.2f} ms vs quiet p99 {extra['quiet_p99_ms']:.2f} ms "
        f"= {_ratio(extra['p99_vs_quiet'])}"
    )


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def _ratio(value: float | None) -> str:
    if value is None:
        return "-"
    # Login against the floor is ~0.0005x: two decimals would print 0.00x.
    return f"{value:.2f}x" if value >= 0.01 else f"{value:.1g}x"


def results_json(
    *,
    machine: Mapping[str, Any],
    options: Mapping[str, Any],
    measurements: Mapping[str, Measurement],
    rss_kib: Mapping[int, int],
    found_targets: Sequence[Target],
    checks: Sequence[Check],
    wall_time_seconds: float,
) -> dict[str, Any]:
    """Everything of the run, JSON-ready."""
    scenarios: dict[str, Any] = {}
    for name, measurement in measurements.items():
        vs_floor, vs_naive = ratios(measurements, name)
        scenarios[name] = {
            "title": measurement.title,
            **measurement.result.to_json(),
            "ratio_vs_floor": None if vs_floor is None else round(vs_floor, 4),
            "ratio_vs_naive": None if vs_naive is None else round(vs_naive, 3),
            "others_cpu_percent": measurement.others_cpu_percent,
            **measurement.extra,
        }
    return {
        "machine": dict(machine),
        "options": dict(options),
        "scenarios": scenarios,
        "verifier_worker_rss_kib": {str(pid): kib for pid, kib in rss_kib.items()},
        "targets": [asdict(target) for target in found_targets],
        "checks": [asdict(check) for check in checks],
        "wall_time_s": round(wall_time_seconds, 1),
    }


def write_json(path: Path, results: Mapping[str, Any]) -> None:
    """Write the results file (its directory is created; bench/results/ is gitignored)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


def _fast_path_targets(measurements: Mapping[str, Measurement]) -> list[Target]:
    """Issue 27's two goals, when their scenarios ran."""
    found = []
    fast = measurements.get("fastpath")
    fast_ratio = fast.extra.get("vs_asgi_route") if fast is not None else None
    if fast is not None and fast_ratio is not None:
        found.append(
            Target(
                f"valid path answered by the /auth fast path >= {TARGET_FAST_PATH_VS_ASGI:g}x "
                f"the ASGI route's requests/s (median of {fast.extra.get('rounds', 1)} "
                "back-to-back pairs)",
                fast_ratio >= TARGET_FAST_PATH_VS_ASGI,
                f"{fast_ratio:.2f}x",
            )
        )
    socket, floor = measurements.get("socket"), measurements.get("floor")
    if socket is not None and floor is not None and floor.result.requests_per_second:
        socket_vs_floor = socket.result.requests_per_second / floor.result.requests_per_second
        found.append(
            Target(
                f"valid path (fast path, Unix socket) >= {TARGET_VALID_VS_FLOOR:g}x the floor's "
                "requests/s",
                socket_vs_floor >= TARGET_VALID_VS_FLOOR,
                f"{socket_vs_floor:.2f}x",
            )
        )
    return found
