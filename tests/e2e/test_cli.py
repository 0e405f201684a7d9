"""The `verifier` command against a real redis-server: users, sessions, configuration errors."""

from __future__ import annotations

import secrets
import subprocess
import sys
from typing import TYPE_CHECKING

from verifier.demo.processes import verifier_environment

if TYPE_CHECKING:
    from conftest import RedisServer


def _verifier(
    redis_server: RedisServer, *args: str, stdin: str = "", **extra_env: str
) -> subprocess.CompletedProcess[str]:
    env = {
        "VERIFIER_REDIS_URL": redis_server.url,
        "VERIFIER_JWT_KEYS": "cli:" + "k" * 40,
        "VERIFIER_KEY_PREFIX": extra_env.pop("prefix", "cli"),
        **extra_env,
    }
    return subprocess.run(
        [sys.executable, "-m", "verifier", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=verifier_environment(env),
        timeout=60,
        check=False,
    )


def test_users_add_list_passwd_remove(redis_server: RedisServer) -> None:
    prefix = f"cli-{secrets.token_hex(4)}"
    name = "Carol.Admin@example.org"

    added = _verifier(redis_server, "users", "add", name, stdin="first-password\n", prefix=prefix)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "user carol.admin@example.org added"
    assert _verifier(redis_server, "users", "list", prefix=prefix).stdout.split() == [
        "carol.admin@example.org"
    ]

    again = _verifier(redis_server, "users", "add", name, stdin="other-password\n", prefix=prefix)
    assert again.returncode == 1
    assert "carol.admin@example.org" in again.stderr

    changed = _verifier(
        redis_server, "users", "passwd", name, stdin="second-password\n", prefix=prefix
    )
    assert changed.returncode == 0, changed.stderr
    assert "0 session(s) ended" in changed.stdout

    removed = _verifier(redis_server, "users", "remove", name, prefix=prefix)
    assert removed.returncode == 0, removed.stderr
    assert _verifier(redis_server, "users", "list", prefix=prefix).stdout == ""
    missing = _verifier(redis_server, "users", "remove", name, prefix=prefix)
    assert missing.returncode == 1


def test_users_add_refuses_bad_names_and_short_passwords(redis_server: RedisServer) -> None:
    bad_name = _verifier(redis_server, "users", "add", "a b{c}", stdin="long-enough-password\n")
    short = _verifier(redis_server, "users", "add", "dave", stdin="short\n")

    assert bad_name.returncode == 1
    assert "user names are" in bad_name.stderr
    assert short.returncode == 1
    assert "at least 8 characters" in short.stderr


def test_bad_configuration_is_one_clear_line(redis_server: RedisServer) -> None:
    result = _verifier(redis_server, "serve", VERIFIER_ACCESS_TTL_SECONDS="ten")

    assert result.returncode == 2
    assert result.stderr.strip() == (
        "verifier: configuration error: VERIFIER_ACCESS_TTL_SECONDS: 'ten' is not a whole number"
    )


def test_unreachable_redis_is_reported_not_a_traceback(redis_server: RedisServer) -> None:
    result = _verifier(redis_server, "users", "list", VERIFIER_REDIS_URL="redis://127.0.0.1:1/0")

    assert result.returncode == 1
    assert "cannot reach Redis" in result.stderr
    assert "Traceback" not in result.stderr
