"""TLS to every kind of deployment: standalone (rediss://), Sentinel and Cluster.

Every server, sentinel and cluster bus speaks TLS only and asks clients for a certificate
of the test CA; the verifier's settings name the CA and a client certificate. Commands, the
CLI and the revocation subscription all go over TLS, and a server certificate the settings'
CA did not sign is refused.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_helpers import run_cli
from redis_topologies import RedisClusterDeployment, SentinelDeployment, start_server, tls_env
from test_revocation_topologies import _listening, _revocation_is_heard
from tls_files import TlsFiles, write_tls_files

from verifier.demo import processes
from verifier.settings import load_settings

pytestmark = pytest.mark.ha


@pytest.fixture(scope="module")
def tls_dir() -> Iterator[Path]:
    """A directory for this module's deployments and certificates."""
    directory = Path(tempfile.mkdtemp(prefix="verifier-e2e-tls-"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def tls(tls_dir: Path) -> TlsFiles:
    """A test CA and a certificate for 127.0.0.1 (for servers and the verifier alike)."""
    return write_tls_files(tls_dir)


@pytest.fixture(scope="module", params=["standalone", "sentinel", "cluster"])
def tls_env_of(
    request: pytest.FixtureRequest, tls_dir: Path, tls: TlsFiles
) -> Iterator[dict[str, str]]:
    """The VERIFIER_* settings of a TLS-only deployment of each kind."""
    base = {"VERIFIER_JWT_KEYS": "tls:" + "k" * 40}
    workdir = tls_dir / request.param
    workdir.mkdir()
    if request.param == "standalone":
        port = processes.free_port()
        server = start_server(workdir, "standalone", port, tls=tls)
        env = tls_env(tls)
        del env["VERIFIER_REDIS_TLS"]  # the rediss:// scheme turns TLS on
        yield {**base, "VERIFIER_REDIS_URL": f"rediss://127.0.0.1:{port}/0", **env}
        server.stop()
        return
    deployment: SentinelDeployment | RedisClusterDeployment = (
        SentinelDeployment(workdir, tls=tls)
        if request.param == "sentinel"
        else RedisClusterDeployment(workdir, tls=tls)
    )
    try:
        deployment.start()
        yield {**base, **deployment.verifier_env()}
    finally:
        deployment.stop()


def test_check_config_reaches_the_deployment_over_tls(tls_env_of: dict[str, str]) -> None:
    result = run_cli(tls_env_of, "check-config")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "ok"


def test_the_cli_works_over_tls(tls_env_of: dict[str, str]) -> None:
    added = run_cli(tls_env_of, "users", "add", "tess", stdin="a long enough password\n")
    assert added.returncode == 0, added.stderr
    assert run_cli(tls_env_of, "users", "list").stdout.startswith("tess\t")


def test_the_revocation_subscription_works_over_tls(tls_env_of: dict[str, str]) -> None:
    target = load_settings(tls_env_of).redis

    async def scenario() -> None:
        async with _listening(target) as (client, keys, cache):
            await _revocation_is_heard(client, keys, cache)

    asyncio.run(scenario())


def test_a_server_certificate_of_another_ca_is_refused(
    tls_env_of: dict[str, str], tmp_path: Path
) -> None:
    other = write_tls_files(tmp_path)
    env = {**tls_env_of, "VERIFIER_REDIS_TLS_CA_FILE": str(other.ca_file)}
    result = run_cli(env, "check-config", expect=1)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].startswith("redis: ")
