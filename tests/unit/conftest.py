"""Fixtures shared by the unit tests that drive the app in process (the fuzz modules)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from verifier.demo.processes import free_port, start_redis

# `make mutation` runs a test once per mutant that reaches it: there, fewer examples, the
# same ones every time (a mutant is killed or not, never by luck).
settings.register_profile("mutation", max_examples=25, derandomize=True, deadline=None)
settings.load_profile(os.environ.get("VERIFIER_HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="module")
def redis_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A real redis-server of the test module's own, on a free loopback port."""
    workdir = tmp_path_factory.mktemp(f"{request.module.__name__.rsplit('.', 1)[-1]}-redis")
    port = free_port()
    server = start_redis(workdir, port)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.stop()
