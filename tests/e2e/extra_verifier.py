"""Another verifier process beside a stack's own: same Redis, keys and prefix, its own port."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from verifier.demo import processes

if TYPE_CHECKING:
    from conftest import Stack


@contextlib.contextmanager
def extra_verifier(stack: Stack, **settings: str) -> Iterator[str]:
    """Run one more verifier with the stack's settings plus `settings`; yield its URL."""
    port = processes.free_port()
    log_dir = stack.workdir / f"extra-verifier-{port}"
    log_dir.mkdir()
    # Its own metrics port and directory, as a second instance on one host would have.
    env = {
        **stack.env,
        "VERIFIER_METRICS_BIND": f"{processes.LOOPBACK}:{processes.free_port()}",
        "VERIFIER_METRICS_DIR": str(log_dir / "metrics"),
        **settings,
    }
    process = processes.start_verifier(env, port, workers=1, log_dir=log_dir)
    try:
        yield f"http://{processes.LOOPBACK}:{port}"
    finally:
        process.stop()
