"""Fixtures of the container run: one compose project of docker-compose.yml, up for the module.

`make test-containers` prepares the machine (.ci/containers/prepare) and then runs these tests;
run alone, without that, they fail and say so rather than skip.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator

import pytest
from build_certificates import local_additions, throwaway_ca
from compose_stack import (
    ComposeStack,
    HealthTicker,
    PodmanApiService,
    missing_prerequisites,
    printed_passwords,
)

# Every service but the one-shot init, which nginx's health waits on indirectly.
LONG_RUNNING = ("redis", "app", "verifier", "nginx")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def marker_ca() -> str:
    """A throwaway CA certificate passed to the build, to be found nowhere in the image."""
    return throwaway_ca("verifier container test: must not reach the image")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, marker_ca: str) -> Iterator[ComposeStack]:
    """`docker-compose up -d` of the unchanged compose file, on podman, in a fresh project."""
    missing = missing_prerequisites()
    if missing:
        pytest.fail(
            f"missing {', '.join(missing)}: run `make test-containers` (as root), which "
            "prepares the machine with .ci/containers/prepare first"
        )
    service = PodmanApiService(tmp_path_factory.mktemp("podman"))
    service.start()
    # A project name of its own: its images do not exist yet, so `up` alone must build them,
    # as on a fresh machine, and nothing of another run is touched.
    project = f"verifierci{secrets.token_hex(4)}"
    ticker = HealthTicker(project)
    ticker.start()
    stack = ComposeStack(
        project=project,
        docker_host=service.docker_host,
        port=_free_port(),
        build_ca_certificates="\n".join([*local_additions(), marker_ca]),
    )
    try:
        stack.compose("up", "--detach")
        stack.wait_healthy(*LONG_RUNNING)
        yield stack
    finally:
        # Whatever the tests left: containers, networks, volumes and the images built here,
        # with their intermediate layers (each run builds with a new CA argument, so they
        # would never be reused).
        stack.compose("down", "--volumes", "--rmi", "local", "--timeout", "10", check=False)
        stack.prune_build_cache()
        ticker.stop()
        service.stop()


@pytest.fixture(scope="session")
def passwords(stack: ComposeStack) -> dict[str, str]:
    """The demo users' passwords, as the first `up` printed them."""
    return printed_passwords(stack.logs("init"))
