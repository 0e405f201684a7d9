"""ACL credentials on Sentinel and Cluster: the settings' password reaches every connection.

Commands, the sentinels' master lookups and the revocation subscription (on a Cluster a
connection of its own to one node) all authenticate; a wrong password is an outage named
by its type, never echoed.
"""

from __future__ import annotations

import asyncio

import pytest
from conftest import ACL_PASSWORD, SENTINEL_ACL_PASSWORD
from e2e_helpers import run_cli
from redis_topologies import RedisClusterDeployment, SentinelDeployment
from test_revocation_topologies import _listening, _revocation_is_heard

from verifier.settings import load_settings

pytestmark = pytest.mark.ha


@pytest.fixture(params=["sentinel", "cluster"])
def acl_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """VERIFIER_* settings of a deployment that requires passwords, with the right ones."""
    deployment: SentinelDeployment | RedisClusterDeployment = request.getfixturevalue(
        f"redis_{request.param}_acl"
    )
    return {"VERIFIER_JWT_KEYS": "acl:" + "k" * 40, **deployment.verifier_env()}


def test_check_config_authenticates(acl_env: dict[str, str]) -> None:
    result = run_cli(acl_env, "check-config")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "ok"


def test_a_wrong_password_is_a_problem_that_never_shows_the_password(
    acl_env: dict[str, str],
) -> None:
    acl_env["VERIFIER_REDIS_PASSWORD"] = "a-wrong-password"
    result = run_cli(acl_env, "check-config", expect=1)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].startswith("redis: ")
    output = result.stdout + result.stderr
    for secret in ("a-wrong-password", ACL_PASSWORD, SENTINEL_ACL_PASSWORD):
        assert secret not in output


def test_users_commands_authenticate(acl_env: dict[str, str]) -> None:
    added = run_cli(acl_env, "users", "add", "rita", stdin="a long enough password\n")
    assert added.returncode == 0, added.stderr
    assert run_cli(acl_env, "users", "list").stdout.startswith("rita\t")


def test_the_revocation_subscription_authenticates(acl_env: dict[str, str]) -> None:
    target = load_settings(acl_env).redis

    async def scenario() -> None:
        async with _listening(target) as (client, keys, cache):
            await _revocation_is_heard(client, keys, cache)

    asyncio.run(scenario())
