"""Probes and `verifier check-config` against real redis-server and verifier processes."""

from __future__ import annotations

import secrets
import subprocess
import sys
from typing import TYPE_CHECKING

import requests
from e2e_helpers import eventually, run_cli

from verifier.demo import processes
from verifier.demo.processes import verifier_environment

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import RedisServer, Stack, StackFactory

# Enough answers that both workers are very likely asked (each answers for itself).
PROBES_PER_CHECK = 8


def _readiness(stack: Stack) -> list[requests.Response]:
    return [
        requests.get(stack.verifier_url + "/readyz", timeout=10) for _ in range(PROBES_PER_CHECK)
    ]


def _all_ready(answers: list[requests.Response]) -> bool:
    return all(answer.status_code == 200 for answer in answers)


def _all_name_redis(answers: list[requests.Response]) -> bool:
    return all(
        answer.status_code == 503
        and any(problem.startswith("redis: ") for problem in answer.json()["problems"])
        for answer in answers
    )


def test_liveness_does_not_depend_on_redis(stack: Stack) -> None:
    stack.stop_redis()

    alive = requests.get(stack.verifier_url + "/healthz", timeout=10)

    assert alive.status_code == 200
    assert alive.text == "ok\n"
    assert alive.headers["Cache-Control"] == "no-store"


def test_readiness_follows_redis_down_and_back(stack: Stack) -> None:
    before = eventually(lambda: _readiness(stack), _all_ready, what="every probe ready")
    assert [answer.json() for answer in before] == [{"ready": True, "problems": []}] * len(before)

    stack.stop_redis()
    try:
        down = eventually(
            lambda: _readiness(stack), _all_name_redis, what="every probe naming Redis"
        )
    finally:
        stack.start_redis()
    back = eventually(lambda: _readiness(stack), _all_ready, what="every probe ready again")

    for answer in down:
        assert answer.status_code == 503
        body = answer.json()
        assert body["ready"] is False
        assert "redis: ConnectionError" in body["problems"]
        assert answer.headers["Cache-Control"] == "no-store"
        assert stack.redis_server.url not in answer.text
    assert [answer.status_code for answer in back] == [200] * len(back)


def test_readiness_without_the_liveness_cache_needs_no_channel(
    fresh_stack: StackFactory,
) -> None:
    uncached = fresh_stack(VERIFIER_LIVENESS_CACHE_SECONDS="0")

    answers = _readiness(uncached)

    assert [answer.json() for answer in answers] == [{"ready": True, "problems": []}] * len(answers)


def test_nginx_does_not_serve_the_probes(stack: Stack) -> None:
    # Through nginx these paths are the protected app's: a login is asked for, and the
    # verifier's probes are never reached.
    for path in ("/healthz", "/readyz"):
        answer = requests.get(stack.url(path), headers={"Accept": "application/json"}, timeout=10)
        assert answer.status_code == 401, path
        assert set(answer.json()) == {"error", "login_url"}, path


def test_check_config_passes_a_good_environment_against_real_redis(stack: Stack) -> None:
    result = stack.cli("check-config")

    assert (result.returncode, result.stdout, result.stderr) == (0, "ok\n", "")


def test_check_config_reports_a_stopped_redis(stack: Stack) -> None:
    stack.stop_redis()

    result = stack.cli("check-config", expect=1)
    skipped = stack.cli("check-config", "--no-redis")

    assert result.returncode == 1
    assert result.stdout.splitlines() == ["redis: ConnectionError", "1 problem(s)"]
    assert (skipped.returncode, skipped.stdout) == (0, "ok\n")


def test_check_config_lists_every_problem_at_once(stack: Stack, tmp_path: Path) -> None:
    empty_keys = tmp_path / "keys"
    empty_keys.mkdir(mode=0o700)
    rules = tmp_path / "rules.toml"
    rules.write_text("[[rules]]\npolicy = 'maybe'\n", encoding="utf-8")
    env = {
        **stack.env,
        "VERIFIER_KEYS_DIR": str(empty_keys),
        "VERIFIER_ACCESS_TTL_SECONDS": "ten",
        "VERIFIER_LOG_LEVEL": "loud",
        "VERIFIER_RULES_FILE": str(rules),
        "VERIFIER_REFRESH_GRACE_SECONDS": "99",
        "VERIFIER_REDIS_URL": "redis://127.0.0.1:1/0",
    }

    result = _cli(env, "check-config")

    lines = result.stdout.splitlines()
    assert result.returncode == 1, result.stderr
    assert lines[-1] == "6 problem(s)"
    assert sorted(line.split(":")[0] for line in lines[:-1]) == sorted(
        [
            "VERIFIER_ACCESS_TTL_SECONDS",
            "VERIFIER_LOG_LEVEL",
            "VERIFIER_RULES_FILE",
            "VERIFIER_REFRESH_GRACE_SECONDS",
            str(empty_keys),
            "redis",
        ]
    )
    assert "redis: ConnectionError" in lines
    assert "Traceback" not in result.stderr


def test_serve_lists_every_problem_before_starting(stack: Stack) -> None:
    env = {**stack.env, "VERIFIER_ACCESS_TTL_SECONDS": "ten", "VERIFIER_LOG_LEVEL": "loud"}

    result = _cli(env, "serve", "--bind", "127.0.0.1:1")

    assert result.returncode == 2
    assert sorted(result.stderr.splitlines()) == [
        "verifier: configuration error: VERIFIER_ACCESS_TTL_SECONDS: 'ten' is not a whole number",
        "verifier: configuration error: VERIFIER_LOG_LEVEL: 'LOUD' is not DEBUG/INFO/WARNING/ERROR",
    ]


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "verifier", *args],
        capture_output=True,
        text=True,
        env=verifier_environment(env),
        timeout=60,
        check=False,
    )


def test_serve_starts_without_redis_and_becomes_ready_when_it_answers(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    # Redis down is not a configuration problem: the service starts, alive but not ready,
    # and is ready as soon as Redis answers, without a restart.
    env = {
        "VERIFIER_REDIS_URL": redis_server.url,
        "VERIFIER_KEYS_DIR": str(tmp_path / "keys"),
        "VERIFIER_KEY_PREFIX": f"probes-{secrets.token_hex(4)}",
        # Not the default port, which another run on this machine may hold.
        "VERIFIER_METRICS_BIND": "off",
    }
    run_cli(env, "keys", "generate")
    port = processes.free_port()
    argv = [sys.executable, "-m", "verifier", "serve", "--bind", f"127.0.0.1:{port}"]
    redis_server.stop()
    verifier = processes.ManagedProcess(
        "verifier-without-redis", argv, tmp_path, env=verifier_environment(env)
    )
    try:
        verifier.wait_until_ok(f"http://127.0.0.1:{port}/healthz", timeout=30)
        not_ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
        redis_server.start()
        verifier.wait_until_ok(f"http://127.0.0.1:{port}/readyz", timeout=30)
    finally:
        verifier.stop()

    assert not_ready.status_code == 503
    assert "redis: ConnectionError" in not_ready.json()["problems"]
    assert "verifier: warning: redis: ConnectionError; starting anyway" in (
        verifier.log_path.read_text(errors="replace")
    )
