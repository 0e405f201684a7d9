"""docker/demo-init.sh, the compose stack's one-shot set-up, run against a real redis-server.

The container run (tests/containers/, `make test-containers`) runs it in the image; this runs
the same script with the `verifier` command of this checkout, so `make test` catches a broken
script on any machine: first run makes keys and two users and prints their passwords, a
second run keeps everything and prints none.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import RedisServer

ROOT = Path(__file__).resolve().parents[2]
INIT_SCRIPT = ROOT / "docker" / "demo-init.sh"
# `verifier` and `python` as the image has them on PATH: this venv's.
VENV_BIN = Path(sys.executable).parent
_CREATED_USER = re.compile(r"user name\s+(\S+)\s+password\s+(\S+)\s+groups\s+(.+)$", re.MULTILINE)


def _environment(redis_server: RedisServer, keys_dir: Path, prefix: str) -> dict[str, str]:
    """The init service's environment, with this venv's commands first on PATH."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("VERIFIER_")}
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', os.defpath)}",
        VERIFIER_REDIS_URL=redis_server.url,
        VERIFIER_KEYS_DIR=str(keys_dir),
        # A key space of its own in the shared redis-server: other tests' users stay apart.
        VERIFIER_KEY_PREFIX=prefix,
        DEMO_URL="http://localhost:8080/",
    )
    return env


def _run_init(redis_server: RedisServer, keys_dir: Path, prefix: str) -> str:
    result = subprocess.run(
        ["sh", str(INIT_SCRIPT)],
        env=_environment(redis_server, keys_dir, prefix),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.stdout


def _users(redis_server: RedisServer, keys_dir: Path, prefix: str) -> list[list[str]]:
    listing = subprocess.run(
        ["verifier", "users", "list"],
        env=_environment(redis_server, keys_dir, prefix),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [line.split("\t") for line in listing.stdout.splitlines()]


def test_first_run_makes_keys_and_users_printing_each_password_and_a_second_run_keeps_them(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    # One test for both runs: each run of the script starts the CLI several times (seconds).
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir(mode=0o700)
    prefix = f"init{secrets.token_hex(4)}"

    first = _run_init(redis_server, keys_dir, prefix)

    printed = {
        name: (password, groups.strip()) for name, password, groups in _CREATED_USER.findall(first)
    }
    assert set(printed) == {"demo", "guest"}, first
    assert printed["demo"][1] == "admins"
    assert printed["demo"][0] != printed["guest"][0]
    users = _users(redis_server, keys_dir, prefix)
    assert {row[0]: row[1] for row in users} == {"demo": "admins", "guest": "-"}
    keys = {path.name: path.read_bytes() for path in keys_dir.iterdir()}
    assert keys, "no signing keys were made"

    second = _run_init(redis_server, keys_dir, prefix)

    assert _CREATED_USER.findall(second) == [], second
    assert "user demo kept" in second and "user guest kept" in second
    assert {path.name: path.read_bytes() for path in keys_dir.iterdir()} == keys
    assert _users(redis_server, keys_dir, prefix) == users
