"""The `verifier` command (check-config, users, sessions, keys) on Sentinel and on Cluster."""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path

import pytest
from e2e_helpers import run_cli
from redis_topologies import SENTINEL_MASTER, RedisClusterDeployment, SentinelDeployment

pytestmark = pytest.mark.ha


@pytest.fixture(params=["sentinel", "cluster"])
def topology_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The VERIFIER_* settings naming a real Sentinel or Cluster deployment."""
    env = {
        "VERIFIER_JWT_KEYS": "cli:" + "k" * 40,
        "VERIFIER_KEY_PREFIX": f"cli-{secrets.token_hex(4)}",
    }
    if request.param == "sentinel":
        sentinel: SentinelDeployment = request.getfixturevalue("redis_sentinel")
        env["VERIFIER_REDIS_SENTINELS"] = sentinel.sentinels
        env["VERIFIER_REDIS_SENTINEL_MASTER"] = SENTINEL_MASTER
    else:
        cluster: RedisClusterDeployment = request.getfixturevalue("redis_cluster")
        env["VERIFIER_REDIS_CLUSTER_NODES"] = cluster.seeds
    return env


def test_check_config_reaches_the_deployment(topology_env: dict[str, str]) -> None:
    result = run_cli(topology_env, "check-config")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "ok"


def test_check_config_names_an_unreachable_deployment_without_its_address(
    topology_env: dict[str, str],
) -> None:
    # Nothing listens on port 1: the sentinels (or seeds) cannot be reached.
    for name in ("VERIFIER_REDIS_SENTINELS", "VERIFIER_REDIS_CLUSTER_NODES"):
        if name in topology_env:
            topology_env[name] = "127.0.0.1:1"
    result = run_cli(topology_env, "check-config", expect=1)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].startswith("redis: ")
    assert "127.0.0.1" not in result.stdout + result.stderr


def test_users_and_sessions_commands_work(topology_env: dict[str, str]) -> None:
    for name in ("olga", "piet", "quinn"):
        added = run_cli(topology_env, "users", "add", name, stdin="a long enough password\n")
        assert added.returncode == 0, added.stderr
    listed = run_cli(topology_env, "users", "list")
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()] == ["olga", "piet", "quinn"]
    groups = run_cli(topology_env, "users", "groups", "piet", "--add", "staff")
    assert groups.returncode == 0, groups.stderr
    assert run_cli(topology_env, "sessions", "list", "piet").returncode == 0
    ended = run_cli(topology_env, "sessions", "end-all", "piet")
    assert ended.returncode == 0, ended.stderr
    assert ended.stdout.strip() == "0 session(s) of piet ended"
    removed = run_cli(topology_env, "users", "remove", "quinn")
    assert removed.returncode == 0, removed.stderr


def test_keys_commands_read_the_same_settings(topology_env: dict[str, str]) -> None:
    keys_dir = Path(tempfile.mkdtemp(prefix="verifier-cli-keys-"))
    env = {k: v for k, v in topology_env.items() if k != "VERIFIER_JWT_KEYS"}
    env["VERIFIER_KEYS_DIR"] = str(keys_dir / "keys")
    generated = run_cli(env, "keys", "generate")
    assert generated.returncode == 0, generated.stderr
    listed = run_cli(env, "keys", "list")
    assert listed.returncode == 0, listed.stderr
    assert "access" in listed.stdout
