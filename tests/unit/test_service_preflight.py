"""verifier.service.preflight: settings, keys and rules problems are collected together."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from verifier.keyring.files import write_key_file
from verifier.keyring.material import KeyUse, generate_key
from verifier.service.preflight import check_configuration, redis_problem
from verifier.store import RedisTarget

NOW = int(time.time())
ALGORITHM: dict[KeyUse, str] = {"access": "HS256", "assertion": "EdDSA"}


def keys_with(directory: Path, *uses: KeyUse) -> Path:
    for use in uses:
        write_key_file(directory, generate_key(use, ALGORITHM[use], NOW, NOW))
    return directory


def test_a_good_configuration_has_no_problem(tmp_path: Path) -> None:
    keys = keys_with(tmp_path / "keys", "access", "assertion")

    preflight = check_configuration({"VERIFIER_KEYS_DIR": str(keys)}, NOW)

    assert preflight.problems == ()
    assert preflight.settings is not None
    assert preflight.settings.keys_dir == keys


def test_key_problems_are_listed_with_settings_problems(tmp_path: Path) -> None:
    keys = keys_with(tmp_path / "keys", "assertion")

    preflight = check_configuration(
        {"VERIFIER_KEYS_DIR": str(keys), "VERIFIER_LOG_LEVEL": "loud"}, NOW
    )

    assert preflight.settings is None
    assert len(preflight.problems) == 2
    assert preflight.problems[0].startswith("VERIFIER_LOG_LEVEL: ")
    assert preflight.problems[1].startswith(f"{keys}: holds no access key that signs now")


def test_a_bad_keys_directory_alone_is_a_problem(tmp_path: Path) -> None:
    keys = keys_with(tmp_path / "keys", "assertion")

    preflight = check_configuration({"VERIFIER_KEYS_DIR": str(keys)}, NOW)

    assert preflight.settings is None
    assert preflight.problems == (
        f"{keys}: holds no access key that signs now: create one with "
        "`verifier keys generate --use access`",
    )


def test_a_relative_keys_directory_is_one_problem_not_two() -> None:
    preflight = check_configuration({"VERIFIER_KEYS_DIR": "keys"}, NOW)

    assert [problem.split(":")[0] for problem in preflight.problems] == ["VERIFIER_KEYS_DIR"]


def test_the_redis_url_is_kept_when_other_values_are_bad() -> None:
    preflight = check_configuration(
        {"VERIFIER_REDIS_URL": "redis://127.0.0.1:1/0", "VERIFIER_LOG_LEVEL": "loud"}, NOW
    )

    assert preflight.redis_url == "redis://127.0.0.1:1/0"
    assert "127.0.0.1" not in repr(preflight)


def test_an_unreachable_redis_is_named_by_the_error_type_only() -> None:
    assert (
        asyncio.run(redis_problem(RedisTarget(url="redis://127.0.0.1:1/0")))
        == "redis: ConnectionError"
    )


def test_an_unparsable_redis_url_is_a_problem_not_a_crash() -> None:
    assert asyncio.run(redis_problem(RedisTarget(url="redis://127.0.0.1:port/0"))) == (
        "redis: VERIFIER_REDIS_URL cannot be parsed"
    )
