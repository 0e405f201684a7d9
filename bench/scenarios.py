"""The scenarios: what each one sends through nginx, and the checks of its results.

Each scenario first proves with a probe (bench/probes.py) that it measures what it claims,
then warms up with a short wrk run that is thrown away, then measures with wrk.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench import client, cpu, probes, wrk
from bench.client import Session
from bench.options import Options
from bench.probes import API_ACCEPT, BenchError
from bench.stack import (
    ASSERTION_AUDIENCE,
    SSO_APP_HOST,
    SSO_PORTAL_HOST,
    STATIC_FILE,
    USER_GROUP,
    RunningStack,
)
from bench.wrk import RunningWrk, WrkJob, WrkResult
from verifier.apitokens import ApiToken
from verifier.demo.processes import ManagedProcess

FLOOR_PATH = f"/floor/{STATIC_FILE}"
NAIVE_PATH = f"/naive/{STATIC_FILE}"
PROTECTED_PATH = f"/protected/{STATIC_FILE}"
ACCESS_PATH = f"/protected-access/{STATIC_FILE}"
ACCESS_PROBE_PATH = f"/protected-access-probe/{STATIC_FILE}"
# Rounds of the metrics pair (off then on, back to back); the ratio is their median.
PAIR_ROUNDS = 3
# The flood and the spin loop keep running a little past the measured window, so the window
# never sees them wind down.
_BACKGROUND_TAIL_SECONDS = 1
SPIN_SCRIPT = Path(__file__).resolve().with_name("spin.py")
# What the flood keeps busy besides /auth: PasswordHasher's pool, one thread per worker
# (verifier.app builds it with the default max_parallel).
HASHING_THREADS_PER_WORKER = 1
# The spin loop is stopped by PID; its own deadline only keeps a stray one from outliving the
# run, so it is set well past the window.
_SPIN_DEADLINE_MARGIN_SECONDS = 60


@dataclass(frozen=True)
class Check:
    """One correctness verdict of the run; a failed `required` one fails `make bench`."""

    name: str
    ok: bool
    detail: str
    required: bool = True


@dataclass(frozen=True)
class Measurement:
    """One scenario's wrk figures, plus what only that scenario has (in `extra`)."""

    name: str
    title: str
    result: WrkResult
    # Share of the machine other processes used during the window (see bench/cpu.py).
    others_cpu_percent: float | None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Window:
    result: WrkResult
    others_cpu_percent: float | None
    # CPU time of the verifier under test (master and workers) per request of the window:
    # far less moved by other processes than requests/s is.
    verifier_cpu_us_per_request: float | None = None
    # Commands Redis executed per request of the window, by command (Lua's inner calls
    # included): what a scenario costs the Redis under it.
    redis_commands_per_request: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Pairs:
    """Back-to-back off/on windows of two verifiers, and the median of their ratios."""

    rounds: list[tuple[_Window, _Window]]
    off_median: _Window
    on_median: _Window
    ratio: float | None
    each_round: list[float]
    cpu_ratio: float | None


class ScenarioRunner:
    """Runs scenarios by name against a started stack; collects their checks."""

    def __init__(self, options: Options, stack: RunningStack, wrk_binary: Path, workdir: Path):
        self._options = options
        self._endpoints = stack.endpoints
        self._verifier_pid = stack.verifier.pid
        self._metrics_verifier_pid = stack.metrics_verifier.pid
        self._sso_verifier_pid = stack.sso_verifier.pid
        self._asgi_verifier_pid = stack.asgi_verifier.pid
        self._valid_cpu_us: float | None = None
        self._codec = stack.token_codec
        self._redis = stack.redis
        self._wrk = wrk_binary
        self._workdir = workdir
        self.checks: list[Check] = []
        self._session = client.login(self._endpoints)
        self._quiet_valid: WrkResult | None = None
        self._spin_p99_ms: float | None = None
        self._runners: dict[str, Callable[[], Measurement]] = {
            "floor": self._floor,
            "naive": self._naive,
            "valid": self._valid,
            "access": self._access,
            "metrics": self._metrics,
            "token": self._token,
            "sso": self._sso,
            "fastpath": self._fast_path,
            "socket": self._socket,
            "refresh": self._refresh,
            "login": self._login,
            "spin": self._spin,
            "flood": self._flood,
        }

    def run(self, name: str) -> Measurement:
        """Probe, warm up and measure one scenario."""
        return self._runners[name]()

    # -- scenarios -------------------------------------------------------------------------

    def _floor(self) -> Measurement:
        probes.expect_allowed(self._endpoints, FLOOR_PATH, {})
        window = self._measure(self._get_job(FLOOR_PATH, {}))
        self._require_all_2xx("floor", window.result)
        return self._measurement("floor", "floor: nginx answers the check (204)", window)

    def _naive(self) -> Measurement:
        # The same Cookie header as the verifier gets; the baseline reads only the access one.
        probes.expect_allowed(self._endpoints, NAIVE_PATH, self._browser_cookies())
        probes.expect_denied(self._endpoints, NAIVE_PATH)
        window = self._measure(self._get_job(NAIVE_PATH, self._browser_cookies()))
        self._require_all_2xx("naive", window.result)
        return self._measurement("naive", "naive: Falcon sync, PyJWT + EXISTS", window)

    def _valid(self) -> Measurement:
        probes.expect_allowed(self._endpoints, PROTECTED_PATH, self._browser_cookies())
        probes.expect_denied(self._endpoints, PROTECTED_PATH)
        window = self._measure(
            self._get_job(PROTECTED_PATH, self._browser_cookies()), self._verifier_pid
        )
        self._require_all_2xx("valid", window.result)
        self._quiet_valid = window.result
        self._valid_cpu_us = window.verifier_cpu_us_per_request
        return self._measurement(
            "valid",
            "verifier: valid access token",
            window,
            {"verifier_cpu_us_per_request": window.verifier_cpu_us_per_request},
        )

    def _access(self) -> Measurement:
        # The valid path again, through a location that requires a group and forwards a
        # signed assertion of its own audience (the second nginx and verifier of the stack).
        endpoints = replace(self._endpoints, base_url=self._endpoints.access_base_url)
        cookies = self._browser_cookies()
        probes.expect_allowed(endpoints, ACCESS_PATH, cookies)
        probes.expect_denied(endpoints, ACCESS_PATH)
        probes.expect_assertion(
            endpoints, ACCESS_PROBE_PATH, cookies, ASSERTION_AUDIENCE, USER_GROUP
        )
        job = replace(self._get_job(ACCESS_PATH, cookies), url=endpoints.url(ACCESS_PATH))
        window = self._measure(job)
        self._require_all_2xx("access", window.result)
        return self._measurement("access", "verifier: valid, group rule + signed assertion", window)

    def _metrics(self) -> Measurement:
        # The valid path again, through the verifier with metrics on: the pair of the
        # metrics-off verifier and this one is the cost of counting. Measured as
        # PAIR_ROUNDS rounds, each an off window then an on window back to back, and the
        # median of the rounds' ratios: on a shared machine the load of other processes
        # drifts over a minute, and a ratio of two windows minutes apart measures the drift.
        endpoints = replace(self._endpoints, base_url=self._endpoints.metrics_base_url)
        cookies = self._browser_cookies()
        probes.expect_allowed(endpoints, PROTECTED_PATH, cookies)
        probes.expect_denied(endpoints, PROTECTED_PATH)
        off_job = self._get_job(PROTECTED_PATH, cookies)
        on_job = replace(off_job, url=endpoints.url(PROTECTED_PATH))
        counted_before = probes.counted_checks(self._endpoints.metrics_scrape_url)
        pairs = self._pairs(off_job, on_job, self._metrics_verifier_pid, "metrics")
        measured_on = sum(on.result.requests for _, on in pairs.rounds)
        counted = probes.wait_for_counted_checks(
            self._endpoints.metrics_scrape_url, counted_before + measured_on
        )
        self.checks.append(
            Check(
                "metrics: the metrics verifier counted every allowed check of the windows",
                counted - counted_before >= measured_on,
                f"{counted - counted_before:,.0f} counted, {measured_on:,} in the windows",
            )
        )
        return self._measurement(
            "metrics",
            "verifier: valid, metrics on",
            pairs.on_median,
            {
                "allowed_counted": counted,
                "rounds": PAIR_ROUNDS,
                "metrics_off_requests_per_s": round(pairs.off_median.result.requests_per_second, 1),
                "vs_metrics_off": pairs.ratio,
                "vs_metrics_off_each_round": pairs.each_round,
                "verifier_cpu_us_per_request": pairs.on_median.verifier_cpu_us_per_request,
                "metrics_off_verifier_cpu_us_per_request": (
                    pairs.off_median.verifier_cpu_us_per_request
                ),
                "cpu_per_request_vs_metrics_off": pairs.cpu_ratio,
            },
        )

    def _sso(self) -> Measurement:
        # The valid path of a token bound to its host (single sign-on: `aud` names the host,
        # and the gate compares it with nginx's $host before any Redis call), through the
        # verifier with single sign-on, against today's valid path on the first verifier,
        # in back-to-back pairs as for metrics. The bound token is minted with the run's
        # key for the bench session: what a hand-off's child carries, the same check.
        endpoints = replace(self._endpoints, base_url=self._endpoints.sso_base_url)
        on_host = {"Host": SSO_APP_HOST}
        bound = self._bound_cookies(SSO_APP_HOST)
        probes.expect_allowed(endpoints, PROTECTED_PATH, {**bound, **on_host})
        probes.expect_denied(endpoints, PROTECTED_PATH, on_host)
        # And the binding really runs: the same token on another host is refused.
        elsewhere = client.get(
            endpoints, PROTECTED_PATH, {**API_ACCEPT, **bound, "Host": SSO_PORTAL_HOST}
        )
        self.checks.append(
            Check(
                "sso: a token bound to the app host is refused on another host",
                elsewhere.status == 401,
                f"answered {elsewhere.status}",
            )
        )
        off_job = self._get_job(PROTECTED_PATH, self._browser_cookies())
        on_job = replace(
            self._get_job(PROTECTED_PATH, {**bound, **on_host}), url=endpoints.url(PROTECTED_PATH)
        )
        pairs = self._pairs(off_job, on_job, self._sso_verifier_pid, "sso")
        return self._measurement(
            "sso",
            "verifier: valid, single sign-on (host-bound token)",
            pairs.on_median,
            {
                "rounds": PAIR_ROUNDS,
                "without_sso_requests_per_s": round(pairs.off_median.result.requests_per_second, 1),
                "vs_without_sso": pairs.ratio,
                "vs_without_sso_each_round": pairs.each_round,
                "verifier_cpu_us_per_request": pairs.on_median.verifier_cpu_us_per_request,
                "without_sso_verifier_cpu_us_per_request": (
                    pairs.off_median.verifier_cpu_us_per_request
                ),
                "cpu_per_request_vs_without_sso": pairs.cpu_ratio,
            },
        )

    def _fast_path(self) -> Measurement:
        # The valid path answered in the worker's protocol from the caches (the first
        # verifier, as deployed) against the same path through the ASGI route (the same
        # verifier with VERIFIER_AUTH_FAST_PATH=false), in back-to-back pairs. Both over TCP.
        asgi = replace(self._endpoints, base_url=self._endpoints.asgi_base_url)
        cookies = self._browser_cookies()
        probes.expect_allowed(asgi, PROTECTED_PATH, cookies)
        probes.expect_denied(asgi, PROTECTED_PATH)
        on_job = self._get_job(PROTECTED_PATH, cookies)
        off_job = replace(on_job, url=asgi.url(PROTECTED_PATH))
        pairs = self._pairs(
            off_job, on_job, self._verifier_pid, "fastpath", off_pid=self._asgi_verifier_pid
        )
        return self._measurement(
            "fastpath",
            "verifier: valid, /auth fast path (TCP)",
            pairs.on_median,
            {
                "rounds": PAIR_ROUNDS,
                "asgi_route_requests_per_s": round(pairs.off_median.result.requests_per_second, 1),
                "vs_asgi_route": pairs.ratio,
                "vs_asgi_route_each_round": pairs.each_round,
                "verifier_cpu_us_per_request": pairs.on_median.verifier_cpu_us_per_request,
                "asgi_route_verifier_cpu_us_per_request": (
                    pairs.off_median.verifier_cpu_us_per_request
                ),
                "cpu_per_request_vs_asgi_route": pairs.cpu_ratio,
            },
        )

    def _socket(self) -> Measurement:
        # The same verifier (fast path on) reached by nginx over its Unix socket against
        # over TCP, in back-to-back pairs: the transport's share of a check.
        unix = replace(self._endpoints, base_url=self._endpoints.unix_base_url)
        cookies = self._browser_cookies()
        probes.expect_allowed(unix, PROTECTED_PATH, cookies)
        probes.expect_denied(unix, PROTECTED_PATH)
        off_job = self._get_job(PROTECTED_PATH, cookies)
        on_job = replace(off_job, url=unix.url(PROTECTED_PATH))
        pairs = self._pairs(off_job, on_job, self._verifier_pid, "socket")
        return self._measurement(
            "socket",
            "verifier: valid, /auth fast path, Unix socket",
            pairs.on_median,
            {
                "rounds": PAIR_ROUNDS,
                "tcp_requests_per_s": round(pairs.off_median.result.requests_per_second, 1),
                "vs_tcp": pairs.ratio,
                "vs_tcp_each_round": pairs.each_round,
                "verifier_cpu_us_per_request": pairs.on_median.verifier_cpu_us_per_request,
                "tcp_verifier_cpu_us_per_request": pairs.off_median.verifier_cpu_us_per_request,
                "cpu_per_request_vs_tcp": pairs.cpu_ratio,
            },
        )

    def _pairs(
        self,
        off_job: WrkJob,
        on_job: WrkJob,
        on_pid: int,
        label: str,
        off_pid: int | None = None,
    ) -> _Pairs:
        # PAIR_ROUNDS rounds, each an off window then an on window back to back, and the
        # median of the rounds' ratios: on a shared machine the load of other processes
        # drifts over a minute, and a ratio of two windows minutes apart measures the drift.
        self._run_job(replace(off_job, duration_seconds=self._options.warmup_seconds))
        self._run_job(replace(on_job, duration_seconds=self._options.warmup_seconds))
        rounds: list[tuple[_Window, _Window]] = []
        for _ in range(PAIR_ROUNDS):
            off_window = self._window(off_job, self._verifier_pid if off_pid is None else off_pid)
            on_window = self._window(on_job, on_pid)
            rounds.append((off_window, on_window))
        for side, results in (
            (f"{label}, off", [off.result for off, _ in rounds]),
            (f"{label}, on", [on.result for _, on in rounds]),
        ):
            self._require_all_2xx_of(f"{side} ({PAIR_ROUNDS} windows)", results)
        ratios = [
            on.result.requests_per_second / off.result.requests_per_second
            for off, on in rounds
            if off.result.requests_per_second
        ]
        cpu_ratios = [
            on.verifier_cpu_us_per_request / off.verifier_cpu_us_per_request
            for off, on in rounds
            if on.verifier_cpu_us_per_request and off.verifier_cpu_us_per_request
        ]
        # The window shown is the median round's on window.
        middle = sorted(range(len(rounds)), key=lambda i: ratios[i] if i < len(ratios) else 0)
        off_median, on_median = rounds[middle[len(middle) // 2]]
        return _Pairs(
            rounds=rounds,
            off_median=off_median,
            on_median=on_median,
            ratio=round(statistics.median(ratios), 3) if ratios else None,
            each_round=[round(ratio, 3) for ratio in ratios],
            cpu_ratio=round(statistics.median(cpu_ratios), 3) if cpu_ratios else None,
        )

    def _token(self) -> Measurement:
        # The valid path with an API token (Authorization: Bearer) instead of the access
        # cookie, on the same verifier and nginx: the token path's cost as a ratio to the
        # cookie path's, measured as PAIR_ROUNDS rounds of a cookie window then a token
        # window back to back (the median of the rounds' ratios), as the metrics pair is.
        cookies = self._browser_cookies()
        bearer = {"Authorization": f"Bearer {self._endpoints.api_token}"}
        probes.expect_allowed(self._endpoints, PROTECTED_PATH, bearer)
        # A token of the right shape that was never issued: refused, so the check runs.
        never_issued = {"Authorization": f"Bearer {ApiToken.mint()}"}
        probes.expect_denied(self._endpoints, PROTECTED_PATH, never_issued)
        cookie_job = self._get_job(PROTECTED_PATH, cookies)
        token_job = self._get_job(PROTECTED_PATH, bearer)
        for job in (cookie_job, token_job):
            self._run_job(replace(job, duration_seconds=self._options.warmup_seconds))
        rounds: list[tuple[_Window, _Window]] = []
        for _ in range(PAIR_ROUNDS):
            cookie_window = self._window(cookie_job, self._verifier_pid)
            token_window = self._window(token_job, self._verifier_pid)
            rounds.append((cookie_window, token_window))
        for side, results in (
            ("token, cookie windows", [cookie.result for cookie, _ in rounds]),
            ("token, token windows", [token.result for _, token in rounds]),
        ):
            self._require_all_2xx_of(f"{side} ({PAIR_ROUNDS} windows)", results)
        ratios = [
            token.result.requests_per_second / cookie.result.requests_per_second
            for cookie, token in rounds
            if cookie.result.requests_per_second
        ]
        cpu_ratios = [
            token.verifier_cpu_us_per_request / cookie.verifier_cpu_us_per_request
            for cookie, token in rounds
            if token.verifier_cpu_us_per_request and cookie.verifier_cpu_us_per_request
        ]
        middle = sorted(range(len(rounds)), key=lambda i: ratios[i] if i < len(ratios) else 0)
        cookie_median, token_median = rounds[middle[len(middle) // 2]]
        # A valid token on repeat asks Redis nothing, as a live session does: what either
        # window sends Redis is the heartbeats and the checks no cache vouched for (a
        # worker's first, the first after its cache entry aged out, and every check while a
        # worker missed its heartbeat, which a busy machine causes on both paths alike). So
        # the token path is judged by how often it goes to Redis against the cookie path of
        # the same round: a token's check there reads two HMGETs (its record, its owner), a
        # session's one EXISTS.
        token_misses = token_median.redis_commands_per_request.get("hmget", 0.0) / 2
        cookie_misses = cookie_median.redis_commands_per_request.get("exists", 0.0)
        asked = sum(token_median.redis_commands_per_request.values())
        cookie_asked = sum(cookie_median.redis_commands_per_request.values())
        self.checks.append(
            Check(
                "token: a valid token on repeat goes to Redis no more often than a session "
                "(checks sent to Redis per request <= 1.5x the cookie window's, or < 0.001)",
                token_misses <= max(0.001, 1.5 * cookie_misses),
                f"token {token_misses:.4f}, cookie {cookie_misses:.4f} checks per request; "
                f"all commands {asked:.4f} and {cookie_asked:.4f} per request",
                required=False,
            )
        )
        return self._measurement(
            "token",
            "verifier: valid API token (Bearer)",
            token_median,
            {
                "rounds": PAIR_ROUNDS,
                "cookie_requests_per_s": round(cookie_median.result.requests_per_second, 1),
                "cookie_redis_commands_per_request": cookie_median.redis_commands_per_request,
                "vs_cookie": round(statistics.median(ratios), 3) if ratios else None,
                "vs_cookie_each_round": [round(ratio, 3) for ratio in ratios],
                "verifier_cpu_us_per_request": token_median.verifier_cpu_us_per_request,
                "cookie_verifier_cpu_us_per_request": cookie_median.verifier_cpu_us_per_request,
                "cpu_per_request_vs_cookie": (
                    round(statistics.median(cpu_ratios), 3) if cpu_ratios else None
                ),
            },
        )

    def _refresh(self) -> Measurement:
        # One session per connection, plus one per thread: before the run, wrk calls
        # request() once on the first thread to check the request parses, and drops it, so
        # that thread's spare token is gone before the first connection opens.
        per_run = self._options.connections + self._options.threads
        # Separate sessions for the warm-up and the measurement: the warm-up rotates its
        # tokens, and wrk cannot hand them on to the next run.
        sessions = client.login_many(self._endpoints, 2 * per_run + 1)
        probes.expect_refresh(self._endpoints, PROTECTED_PATH, self._codec, sessions.pop())
        warmup_file = self._write_tokens("refresh-warmup.txt", sessions[:per_run])
        measure_file = self._write_tokens("refresh-measure.txt", sessions[per_run:])
        self._run_job(self._refresh_job(warmup_file, self._options.warmup_seconds))
        window = self._window(self._refresh_job(measure_file, self._options.duration_seconds))
        result = window.result
        rotations = result.counters.get("rotations", 0)
        lost = result.counters.get("lost", 0)
        starved = result.counters.get("starved", 0)
        errors = _socket_errors(result)
        self.checks.append(
            Check(
                "refresh: every request rotated its session",
                result.non_2xx == 0 and lost == 0 and starved == 0 and not errors,
                f"{result.non_2xx} non-2xx, {lost} responses without a rotated refresh "
                f"cookie, {starved} requests sent without a token, "
                f"wrk errors {errors or 'none'}",
                # Reported, not fatal: under overload a rotation can fail honestly.
                required=False,
            )
        )
        return self._measurement(
            "refresh",
            "verifier: silent refresh (rotation)",
            window,
            {
                "rotations": rotations,
                "rotations_per_s": round(rotations / result.duration_seconds, 1),
                "lost_sessions": lost,
                "requests_without_token": starved,
            },
        )

    def _login(self) -> Measurement:
        job = self._login_job(self._endpoints.password, self._options.connections)
        window = self._measure(job)
        self._require_all_2xx("login", window.result)
        return self._measurement("login", "login: POST JSON, correct password", window)

    def _spin(self) -> Measurement:
        # The control for the flood: CPU-bound work at the lowest priority, none of it ours,
        # as many busy threads as the flood keeps busy: one hashing thread per worker.
        quiet_p99 = self._quiet_p99("spin")
        spinners = [
            ManagedProcess(
                f"spin-{index}",
                [
                    sys.executable,
                    str(SPIN_SCRIPT),
                    str(self._background_seconds() + _SPIN_DEADLINE_MARGIN_SECONDS),
                ],
                self._workdir,
            )
            for index in range(self._options.workers * HASHING_THREADS_PER_WORKER)
        ]
        try:
            time.sleep(self._options.warmup_seconds)
            window = self._window(self._get_job(PROTECTED_PATH, self._browser_cookies()))
            spun_throughout = all(spinner.is_running() for spinner in spinners)
        finally:
            for spinner in spinners:
                spinner.stop()
        self.checks.append(
            Check(
                "spin: every spin loop ran through the whole window",
                spun_throughout,
                "yes"
                if spun_throughout
                else "; ".join(f"{s.name}: {s.log_tail(5)}" for s in spinners),
            )
        )
        self._require_all_2xx("valid beside the spin loops", window.result)
        self._spin_p99_ms = window.result.p99_ms
        return self._measurement(
            "spin",
            f"verifier: valid, {len(spinners)} lowest-priority spin loops",
            window,
            {
                "quiet_p99_ms": quiet_p99,
                "p99_vs_quiet": _p99_ratio(window.result, quiet_p99),
                "spin_loops": len(spinners),
                "spin_priority": spinners[0].log_tail(1).removeprefix("spin: "),
            },
        )

    def _flood(self) -> Measurement:
        quiet_p99 = self._quiet_p99("flood")
        options = self._options
        wrong_password = self._endpoints.password + "-wrong"
        flood_job = replace(
            self._login_job(wrong_password, options.flood_connections),
            duration_seconds=self._background_seconds(),
        )
        flood = RunningWrk(self._wrk, flood_job)
        try:
            # The flood's own warm-up: the hashing pools fill before the window opens.
            time.sleep(options.warmup_seconds)
            window = self._window(self._get_job(PROTECTED_PATH, self._browser_cookies()))
            flood_result = flood.finish()
        finally:
            flood.stop()
        during = window.result
        self._require_all_2xx("valid during flood", during)
        bad_logins, errors = flood_result.statuses, _socket_errors(flood_result)
        self.checks.append(
            Check(
                "flood: every wrong-password login was refused (401) or shed when queued too "
                "long (503)",
                set(bad_logins) <= {401, 503} and 401 in bad_logins and not errors,
                f"statuses {bad_logins}, wrk errors {errors or 'none'}",
                # A 429 or a timeout here is the verifier's answer to overload, not a fault
                # of the measurement; it is reported and the run goes on.
                required=False,
            )
        )
        return self._measurement(
            "flood",
            f"verifier: valid, {options.flood_connections} bad logins at once",
            window,
            {
                "quiet_p99_ms": quiet_p99,
                "p99_vs_quiet": _p99_ratio(during, quiet_p99),
                # Password hashing against CPU work that is not ours at all.
                "p99_vs_spin": None
                if self._spin_p99_ms is None
                else _p99_ratio(during, self._spin_p99_ms),
                "logins": flood_result.to_json(),
            },
        )

    def _quiet_p99(self, scenario: str) -> float:
        if self._quiet_valid is None:
            raise BenchError(f"the {scenario} scenario needs the quiet valid-path run first")
        return self._quiet_valid.p99_ms

    def _background_seconds(self) -> int:
        # The background load's own warm-up, the measured window, and a tail.
        options = self._options
        return options.warmup_seconds + options.duration_seconds + _BACKGROUND_TAIL_SECONDS

    # -- wrk jobs --------------------------------------------------------------------------

    def _get_job(self, path: str, headers: dict[str, str]) -> WrkJob:
        return WrkJob(
            url=self._endpoints.url(path),
            script="get.lua",
            connections=self._options.connections,
            threads=self._options.threads,
            duration_seconds=self._options.duration_seconds,
            headers={**API_ACCEPT, **headers},
        )

    def _refresh_job(self, tokens_file: Path, duration_seconds: int) -> WrkJob:
        threads = self._options.threads
        return WrkJob(
            url=self._endpoints.url(PROTECTED_PATH),
            script="refresh.lua",
            connections=self._options.connections,
            threads=threads,
            duration_seconds=duration_seconds,
            script_args=(
                str(tokens_file),
                self._endpoints.access_cookie,
                self._endpoints.refresh_cookie,
                str(threads),
            ),
        )

    def _login_job(self, password: str, connections: int) -> WrkJob:
        return WrkJob(
            url=self._endpoints.url(client.LOGIN_PATH),
            script="login.lua",
            connections=connections,
            threads=self._options.threads,
            duration_seconds=self._options.duration_seconds,
            script_args=(self._endpoints.user_name, password),
        )

    def _measure(self, job: WrkJob, verifier_pid: int | None = None) -> _Window:
        """A thrown-away warm-up run of the same job, then the measured one."""
        self._run_job(replace(job, duration_seconds=self._options.warmup_seconds))
        return self._window(job, verifier_pid)

    def _window(self, job: WrkJob, verifier_pid: int | None = None) -> _Window:
        """A measured run, with what other processes took of the CPU meanwhile (and the
        CPU the verifier `verifier_pid` took per request, when given)."""
        commands_before = self._redis.commandstats()
        before = cpu.sample()
        verifier_before = cpu.process_tree_ticks(verifier_pid) if verifier_pid else 0
        result = self._run_job(job)
        per_request = None
        if verifier_pid and result.requests:
            ticks = cpu.process_tree_ticks(verifier_pid) - verifier_before
            per_request = round(cpu.ticks_to_microseconds(ticks) / result.requests, 1)
        others = cpu.others_percent(before, cpu.sample())
        commands = _per_request(commands_before, self._redis.commandstats(), result.requests)
        return _Window(result, others, per_request, commands)

    def _run_job(self, job: WrkJob) -> WrkResult:
        return wrk.run(self._wrk, job)

    @staticmethod
    def _measurement(
        name: str, title: str, window: _Window, extra: dict[str, Any] | None = None
    ) -> Measurement:
        extra = {"redis_commands_per_request": window.redis_commands_per_request, **(extra or {})}
        return Measurement(name, title, window.result, window.others_cpu_percent, extra)

    # -- cookies, checks, token files ------------------------------------------------------

    def _browser_cookies(self) -> dict[str, str]:
        # Both cookies, as a browser sends them; only the access token is needed here.
        endpoints, session = self._endpoints, self._session
        return {
            "Cookie": f"{endpoints.access_cookie}={session.access_token}; "
            f"{endpoints.refresh_cookie}={session.refresh_token}"
        }

    def _bound_cookies(self, host: str) -> dict[str, str]:
        # The bench session's access token again, bound to `host` (single sign-on).
        session_id = self._session.refresh_token.split(".")[1]
        token = self._codec.issue(self._endpoints.user_name, session_id, time.time(), host=host)
        return {"Cookie": f"{self._endpoints.access_cookie}={token}"}

    def _require_all_2xx(self, scenario: str, result: WrkResult) -> None:
        errors = _socket_errors(result)
        self.checks.append(
            Check(
                f"{scenario}: every response 2xx",
                result.non_2xx == 0 and not errors,
                f"statuses {result.statuses}, wrk errors {errors or 'none'}",
            )
        )

    def _require_all_2xx_of(self, label: str, results: list[WrkResult]) -> None:
        statuses: Counter[int] = Counter()
        errors: Counter[str] = Counter()
        for result in results:
            statuses.update(result.statuses)
            errors.update(_socket_errors(result))
        self.checks.append(
            Check(
                f"{label}: every response 2xx",
                all(result.non_2xx == 0 for result in results) and not errors,
                f"statuses {dict(statuses)}, wrk errors {dict(errors) or 'none'}",
            )
        )

    def _write_tokens(self, name: str, sessions: list[Session]) -> Path:
        # One line per session: its refresh token, then its expired access token.
        path = self._workdir / name
        lines = [
            f"{s.refresh_token} {probes.expired_access_token(self._codec, s)}\n" for s in sessions
        ]
        path.write_text("".join(lines), encoding="utf-8")
        return path


def _per_request(before: dict[str, int], after: dict[str, int], requests: int) -> dict[str, float]:
    # The INFO commandstats the reads themselves add (one per master each) are left in:
    # a few calls against tens of thousands of requests.
    if not requests:
        return {}
    counted = {name: after[name] - before.get(name, 0) for name in after}
    return {
        name: round(calls / requests, 4)
        for name, calls in sorted(counted.items())
        if calls / requests >= 0.0001
    }


def _p99_ratio(result: WrkResult, quiet_p99_ms: float) -> float | None:
    return round(result.p99_ms / quiet_p99_ms, 2) if quiet_p99_ms else None


def _socket_errors(result: WrkResult) -> dict[str, int]:
    # wrk's "status" error count is the responses >= 400, already in the status counts;
    # the others (connect, read, write, timeout) are requests that never got an answer.
    return {name: n for name, n in result.wrk_errors.items() if n and name != "status"}
