"""The Redis the bench runs on: one standalone server, a Sentinel setup or a Cluster.

Sentinel and Cluster are the real deployments the HA tests use (tests/e2e/
redis_topologies.py: a master, a replica and 3 sentinels; 3 masters + 3 replicas), started
on free loopback ports in the run's directory and stopped by PID. `commandstats` reads what
every master has executed so far, to count Redis commands per request.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import redis

from verifier.demo import processes
from verifier.demo.processes import ManagedProcess

TOPOLOGIES = ("standalone", "sentinel", "cluster")
# The deployments are the HA tests' fixtures: one definition of each, not two.
_TESTS_E2E = Path(__file__).resolve().parent.parent / "tests" / "e2e"
if str(_TESTS_E2E) not in sys.path:
    sys.path.append(str(_TESTS_E2E))

import redis_topologies  # noqa: E402 - found through the path set just above


class BenchRedis:
    """Starts one topology in `workdir`; a context manager that stops it by PID."""

    def __init__(self, workdir: Path, topology: str) -> None:
        if topology not in TOPOLOGIES:
            raise ValueError(f"unknown Redis topology {topology!r}")
        self.topology = topology
        self._workdir = workdir
        self._standalone: ManagedProcess | None = None
        self._standalone_port = 0
        self._deployment: (
            redis_topologies.SentinelDeployment | redis_topologies.RedisClusterDeployment | None
        ) = None

    def __enter__(self) -> BenchRedis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the topology and wait until it is whole; stop what started on failure."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        if self.topology == "standalone":
            self._standalone_port = processes.free_port()
            self._standalone = processes.start_redis(self._workdir, self._standalone_port)
            return
        workdir = self._workdir / self.topology
        workdir.mkdir()
        if self.topology == "sentinel":
            self._deployment = redis_topologies.SentinelDeployment(workdir)
        else:
            self._deployment = redis_topologies.RedisClusterDeployment(workdir)
        self._deployment.start()

    def stop(self) -> None:
        """Stop every Redis process of the topology by PID."""
        if self._standalone is not None:
            self._standalone.stop()
            self._standalone = None
        if self._deployment is not None:
            self._deployment.stop()
            self._deployment = None

    def verifier_env(self) -> dict[str, str]:
        """The VERIFIER_REDIS_* settings that name this Redis."""
        if self._deployment is None:
            return {"VERIFIER_REDIS_URL": self._url(self._standalone_port)}
        return dict(self._deployment.verifier_env())

    def url_serving(self, key: str) -> str:
        """A redis:// URL of the master that holds `key` (for the naive baseline's EXISTS)."""
        return self._url(self._master_port(key))

    def commandstats(self) -> dict[str, int]:
        """Calls of each command so far, summed over every master (Lua's inner calls too)."""
        totals: dict[str, int] = {}
        for port in self._master_ports():
            with self._client(port) as client:
                stats: Mapping[str, Any] = client.info("commandstats")
            for name, entry in stats.items():
                command = name.removeprefix("cmdstat_")
                totals[command] = totals.get(command, 0) + int(entry["calls"])
        return totals

    def _master_port(self, key: str) -> int:
        if self._deployment is None:
            return self._standalone_port
        if isinstance(self._deployment, redis_topologies.SentinelDeployment):
            return int(self._deployment.current_master_port())
        return int(self._deployment.port_serving(key))

    def _master_ports(self) -> list[int]:
        if self._deployment is None:
            return [self._standalone_port]
        if isinstance(self._deployment, redis_topologies.SentinelDeployment):
            return [int(self._deployment.current_master_port())]
        return [int(port) for port in self._deployment.master_ports()]

    @staticmethod
    def _url(port: int) -> str:
        return f"redis://{processes.LOOPBACK}:{port}/0"

    @staticmethod
    def _client(port: int) -> redis.Redis:
        return redis.Redis(host=processes.LOOPBACK, port=port, socket_timeout=5.0)
