"""Real distributed Redis deployments for the tests: a Cluster and a Sentinel setup.

`RedisClusterDeployment` is 3 masters + 3 replicas made with `redis-cli --cluster create`;
`SentinelDeployment` is a master, one replica and 3 `redis-sentinel` processes. Every process
listens on a free port of 127.0.0.1, keeps its files in a temporary directory and is
stopped by its PID. Timeouts are short (a node or a master is judged down after 2 s) but not
so short that a busy 2-core machine mistakes a slow process for a dead one. Start-up waits
for the deployment to say it is whole, never for a fixed time.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from redis.cluster import ClusterNode
from redis.sentinel import Sentinel
from tls_files import TlsFiles

from verifier.demo import processes
from verifier.demo.processes import ManagedProcess, ProcessStartError

# Node timeout (Cluster) and down-after (Sentinel): how long a silent node takes to be
# judged down. About 2 s, as on a real deployment with a short timeout.
DOWN_AFTER_MILLISECONDS = 2000
# How long the deployment may take to become whole on a slow machine.
SETTLE_SECONDS = 60.0
SENTINEL_MASTER = "verifier-master"
SENTINELS = 3
# Sentinel enters TILT (and does nothing for tilt-period, 30 s by default) when its 100 ms
# timer fires more than tilt-trigger (2 s) late, which CPU starvation on 2 cores can cause.
# A later trigger and a short period keep a busy test machine from freezing failovers.
TILT_TRIGGER_MILLISECONDS = 10_000
TILT_PERIOD_MILLISECONDS = 1000
# How often a sentinel asks the servers for INFO (10 s by default): how soon it learns of a
# replica, at start-up and after a failover.
INFO_PERIOD_MILLISECONDS = 1000


class WholeClusterClient(redis.RedisCluster):
    """A sync cluster client whose pub/sub counts and command stats cover every node.

    Tests read both of one standalone server (how many workers listen, how many EXISTS
    the workers sent); on a Cluster each node counts only its own.
    """

    def pubsub_numsub(self, *channels: Any, **options: Any) -> Any:
        """Subscribers of each channel, summed over every node."""
        return super().pubsub_numsub(*channels, target_nodes=self.ALL_NODES, **options)

    def info(self, section: Any = None, *args: Any, **options: Any) -> Any:
        """INFO of every master, with the counters of each section entry summed."""
        per_node = super().info(section, *args, target_nodes=self.PRIMARIES, **options)
        summed: dict[str, Any] = {}
        for reply in per_node.values():
            for name, value in reply.items():
                if isinstance(value, dict):
                    entry = summed.setdefault(name, {})
                    for field_name, count in value.items():
                        if isinstance(count, int):
                            entry[field_name] = entry.get(field_name, 0) + count
        return summed


def wait_for(condition: Callable[[], bool], what: str, seconds: float = SETTLE_SECONDS) -> None:
    """Poll `condition` (exceptions count as "not yet") until it holds; raise if it never does."""
    deadline = time.monotonic() + seconds
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (redis.exceptions.RedisError, OSError) as error:
            last_error = error
        time.sleep(0.05)
    raise ProcessStartError("redis deployment", f"{what} within {seconds:g} s", repr(last_error))


def _client(port: int, password: str | None = None, tls: TlsFiles | None = None) -> redis.Redis:
    return redis.Redis(
        host=processes.LOOPBACK,
        port=port,
        password=password,
        decode_responses=True,
        socket_timeout=2.0,
        **client_tls_options(tls),
    )


def client_tls_options(tls: TlsFiles | None) -> dict[str, Any]:
    """redis-py's options for a client that speaks TLS with these files (none: plain TCP)."""
    if tls is None:
        return {}
    return {
        "ssl": True,
        "ssl_ca_certs": str(tls.ca_file),
        "ssl_certfile": str(tls.cert_file),
        "ssl_keyfile": str(tls.key_file),
    }


def tls_env(tls: TlsFiles | None) -> dict[str, str]:
    """The VERIFIER_REDIS_TLS* settings for these files (none: no settings)."""
    if tls is None:
        return {}
    return {
        "VERIFIER_REDIS_TLS": "true",
        "VERIFIER_REDIS_TLS_CA_FILE": str(tls.ca_file),
        "VERIFIER_REDIS_TLS_CERT_FILE": str(tls.cert_file),
        "VERIFIER_REDIS_TLS_KEY_FILE": str(tls.key_file),
    }


def _tls_options(tls: TlsFiles | None) -> list[str]:
    # TLS only (no plain port), clients must show a certificate of the CA, and replication
    # and the cluster bus use TLS too.
    if tls is None:
        return []
    return [
        "--tls-cert-file", str(tls.cert_file),
        "--tls-key-file", str(tls.key_file),
        "--tls-ca-cert-file", str(tls.ca_file),
        "--tls-auth-clients", "yes",
        "--tls-replication", "yes",
        "--tls-cluster", "yes",
    ]  # fmt: skip


def _auth_options(password: str | None) -> list[str]:
    # The default user's password; replicas use it to reach their master.
    return [] if password is None else ["--requirepass", password, "--masterauth", password]


def start_server(
    workdir: Path, name: str, port: int, *options: str, tls: TlsFiles | None = None
) -> ManagedProcess:
    """Start one redis-server (TLS only on `port` when `tls` is given); wait until it listens."""
    node_dir = workdir / name
    # A node started again (same name) finds its files, e.g. a cluster node its nodes.conf.
    node_dir.mkdir(exist_ok=True)
    argv = [
        str(processes.find_redis_server().absolute()),
        "--bind", processes.LOOPBACK,
        *(["--port", "0", "--tls-port", str(port)] if tls else ["--port", str(port)]),
        *processes.NO_PERSISTENCE,
        "--dir", str(node_dir),
        *_tls_options(tls),
        *options,
    ]  # fmt: skip
    process = ManagedProcess(name, argv, node_dir)
    try:
        process.wait_until_listening(port)
    except ProcessStartError:
        process.stop()
        raise
    return process


@dataclass
class RedisClusterDeployment:
    """A Redis Cluster of 3 masters, each with one replica, on 127.0.0.1."""

    workdir: Path
    # The password of every node (None: no authentication), and TLS (None: plain TCP).
    password: str | None = None
    tls: TlsFiles | None = None
    ports: list[int] = field(default_factory=list)
    nodes: dict[int, ManagedProcess] = field(default_factory=dict)
    bus_ports: dict[int, int] = field(default_factory=dict)

    @property
    def seeds(self) -> str:
        """The nodes as VERIFIER_REDIS_CLUSTER_NODES wants them (host:port, comma-separated)."""
        return ",".join(f"{processes.LOOPBACK}:{port}" for port in self.ports)

    def start(self) -> None:
        """Start six nodes, join them into a cluster and wait until it is whole."""
        for _ in range(6):
            port = processes.free_port()
            self.ports.append(port)
            # Not port + 10000, which may be taken (or above 65535): a port of its own.
            self.bus_ports[port] = processes.free_port()
            self.start_node(port)
        argv = [
            "redis-cli",
            *([] if self.password is None else ["--no-auth-warning", "-a", self.password]),
            *([] if self.tls is None else [
                "--tls", "--cacert", str(self.tls.ca_file),
                "--cert", str(self.tls.cert_file), "--key", str(self.tls.key_file),
            ]),
            "--cluster", "create",
            *(f"{processes.LOOPBACK}:{port}" for port in self.ports),
            "--cluster-replicas", "1", "--cluster-yes",
        ]  # fmt: skip
        create = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=SETTLE_SECONDS,
            check=False,
        )
        if create.returncode != 0:
            raise ProcessStartError("redis-cli --cluster create", "failed", create.stdout)
        wait_for(self.is_whole, "cluster_state:ok with every slot and replica")

    def verifier_env(self) -> dict[str, str]:
        """The VERIFIER_* settings that name this cluster."""
        env = {"VERIFIER_REDIS_CLUSTER_NODES": self.seeds, **tls_env(self.tls)}
        if self.password is not None:
            env["VERIFIER_REDIS_USERNAME"] = "default"
            env["VERIFIER_REDIS_PASSWORD"] = self.password
        return env

    def client(self) -> WholeClusterClient:
        """A sync cluster client (str replies) for the tests' own reads and writes."""
        return WholeClusterClient(
            startup_nodes=[ClusterNode(processes.LOOPBACK, port) for port in self.ports],
            password=self.password,
            decode_responses=True,
            **client_tls_options(self.tls),
        )

    def start_node(self, port: int) -> None:
        """Start the node of `port` (again: it rejoins the cluster from its nodes.conf)."""
        self.nodes[port] = start_server(
            self.workdir,
            f"cluster-node-{port}",
            port,
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(DOWN_AFTER_MILLISECONDS),
            "--cluster-port", str(self.bus_ports[port]),
            *_auth_options(self.password),
            tls=self.tls,
        )  # fmt: skip

    def running_ports(self) -> list[int]:
        """The ports of the nodes whose process runs (a stopped one is not even dialled)."""
        return [port for port in self.ports if self.nodes[port].is_running()]

    def stop_node(self, port: int) -> None:
        """Stop one node by its PID (SIGTERM)."""
        self.nodes[port].stop()

    def wait_until_whole(self) -> None:
        """Wait until the cluster is whole again (after a node came back)."""
        wait_for(self.is_whole, "cluster_state:ok with every slot and replica")

    def is_whole(self) -> bool:
        """Every node knows all six, every slot is served, every replica is in sync."""
        masters = 0
        for port in self.ports:
            with _client(port, self.password, self.tls) as client:
                info = client.cluster("INFO")
                if info["cluster_state"] != "ok" or int(info["cluster_slots_ok"]) != 16384:
                    return False
                if int(info["cluster_known_nodes"]) != 6:
                    return False
                replication = client.info("replication")
                if replication["role"] == "master":
                    masters += 1
                elif replication.get("master_link_status") != "up":
                    return False
        return masters == 3

    def master_ports(self) -> list[int]:
        """The ports of the nodes that are masters now."""
        found = []
        for port in self.ports:
            with _client(port, self.password, self.tls) as client:
                if client.info("replication")["role"] == "master":
                    found.append(port)
        return found

    def port_serving(self, key: str) -> int:
        """The port of the master that serves `key`'s slot now."""
        with _client(self.ports[0], self.password, self.tls) as client:
            slot = int(client.cluster("KEYSLOT", key))
            for start, end, master, *_ in client.execute_command("CLUSTER SLOTS"):
                if start <= slot <= end:
                    return int(master[1])
        raise AssertionError(f"no node serves slot {slot}")

    def stop(self) -> None:
        """Stop every node by its PID."""
        for process in self.nodes.values():
            process.stop()


@dataclass
class SentinelDeployment:
    """A master, one replica and three sentinels watching them, on 127.0.0.1."""

    workdir: Path
    # The servers' password, and the sentinels' own (None: no authentication).
    password: str | None = None
    sentinel_password: str | None = None
    # TLS for every process, sentinels included (None: plain TCP).
    tls: TlsFiles | None = None
    master_port: int = 0
    replica_port: int = 0
    sentinel_ports: list[int] = field(default_factory=list)
    servers: dict[str, ManagedProcess] = field(default_factory=dict)

    @property
    def sentinels(self) -> str:
        """The sentinels as VERIFIER_REDIS_SENTINELS wants them (host:port, comma-separated)."""
        return ",".join(f"{processes.LOOPBACK}:{port}" for port in self.sentinel_ports)

    def start(self) -> None:
        """Start the master, the replica and the sentinels; wait until all see each other."""
        self.master_port = processes.free_port()
        self.replica_port = processes.free_port()
        auth = _auth_options(self.password)
        self.servers["master"] = start_server(
            self.workdir, "master", self.master_port, *auth, tls=self.tls
        )
        self.servers["replica"] = start_server(
            self.workdir,
            "replica",
            self.replica_port,
            "--replicaof", processes.LOOPBACK, str(self.master_port),
            *auth,
            tls=self.tls,
        )  # fmt: skip
        for index in range(SENTINELS):
            port = processes.free_port()
            self.sentinel_ports.append(port)
            self.servers[f"sentinel-{index}"] = self._start_sentinel(index, port)
        for port in self.sentinel_ports:
            with _client(port, self.sentinel_password, self.tls) as client:
                client.execute_command(
                    "SENTINEL", "DEBUG",
                    "tilt-trigger", TILT_TRIGGER_MILLISECONDS,
                    "tilt-period", TILT_PERIOD_MILLISECONDS,
                    "info-period", INFO_PERIOD_MILLISECONDS,
                )  # fmt: skip
        wait_for(self.is_whole, "every sentinel seeing the master, the replica and the others")

    def _start_sentinel(self, index: int, port: int) -> ManagedProcess:
        sentinel_dir = self.workdir / f"sentinel-{index}"
        sentinel_dir.mkdir()
        # Sentinel rewrites its configuration file (it records what it learns): its own copy.
        config = sentinel_dir / "sentinel.conf"
        tls = self.tls
        config.write_text(
            f"bind {processes.LOOPBACK}\n"
            + (f"port {port}\n" if tls is None else "port 0\n")
            + (
                ""
                if tls is None
                else f"tls-port {port}\n"
                f"tls-cert-file {tls.cert_file}\n"
                f"tls-key-file {tls.key_file}\n"
                f"tls-ca-cert-file {tls.ca_file}\n"
                "tls-auth-clients yes\n"
                # Its own connections (to the servers and the other sentinels) use TLS too.
                "tls-replication yes\n"
            )
            + f"dir {sentinel_dir}\n"
            f"sentinel monitor {SENTINEL_MASTER} {processes.LOOPBACK} {self.master_port} 2\n"
            f"sentinel down-after-milliseconds {SENTINEL_MASTER} {DOWN_AFTER_MILLISECONDS}\n"
            f"sentinel failover-timeout {SENTINEL_MASTER} 10000\n"
            f"sentinel parallel-syncs {SENTINEL_MASTER} 1\n"
            + (f"sentinel auth-pass {SENTINEL_MASTER} {self.password}\n" if self.password else "")
            + (
                # Its own password, and the one it gives the other sentinels.
                f"requirepass {self.sentinel_password}\n"
                f"sentinel sentinel-pass {self.sentinel_password}\n"
                if self.sentinel_password
                else ""
            ),
            encoding="utf-8",
        )
        binary = shutil.which("redis-sentinel")
        if binary is None:
            raise FileNotFoundError("no redis-sentinel found: install Debian's redis-sentinel")
        process = ManagedProcess(f"sentinel-{index}", [binary, str(config)], sentinel_dir)
        try:
            process.wait_until_listening(port)
        except ProcessStartError:
            process.stop()
            raise
        return process

    def is_whole(self) -> bool:
        """The replica is in sync and every sentinel knows the master, it and the others."""
        with _client(self.replica_port, self.password, self.tls) as client:
            if client.info("replication").get("master_link_status") != "up":
                return False
        for port in self.sentinel_ports:
            with _client(port, self.sentinel_password, self.tls) as client:
                state = client.sentinel_master(SENTINEL_MASTER)
                if not state["is_master"] or state["is_sdown"] or state["is_odown"]:
                    return False
                if state["num-slaves"] != 1 or state["num-other-sentinels"] != SENTINELS - 1:
                    return False
        return True

    def verifier_env(self) -> dict[str, str]:
        """The VERIFIER_* settings that name these sentinels and their master."""
        env = {
            "VERIFIER_REDIS_SENTINELS": self.sentinels,
            "VERIFIER_REDIS_SENTINEL_MASTER": SENTINEL_MASTER,
            **tls_env(self.tls),
        }
        if self.password is not None:
            env["VERIFIER_REDIS_PASSWORD"] = self.password
        if self.sentinel_password is not None:
            env["VERIFIER_REDIS_SENTINEL_PASSWORD"] = self.sentinel_password
        return env

    def client(self) -> redis.Redis:
        """A sync client (str replies) of the master the sentinels name."""
        sentinel = Sentinel(
            [(processes.LOOPBACK, port) for port in self.sentinel_ports],
            sentinel_kwargs={
                "socket_timeout": 2.0,
                "password": self.sentinel_password,
                **client_tls_options(self.tls),
            },
            socket_timeout=2.0,
        )
        master: redis.Redis = sentinel.master_for(
            SENTINEL_MASTER,
            password=self.password,
            decode_responses=True,
            **client_tls_options(self.tls),
        )
        return master

    def current_master_port(self) -> int:
        """The master's port as the first sentinel says now."""
        with _client(self.sentinel_ports[0], self.sentinel_password, self.tls) as client:
            _host, port = client.sentinel_get_master_addr_by_name(SENTINEL_MASTER)
            return int(port)

    def stop(self) -> None:
        """Stop the sentinels first (no failover while the servers stop), then the servers."""
        for name in sorted(self.servers, key=lambda name: not name.startswith("sentinel")):
            self.servers[name].stop()
