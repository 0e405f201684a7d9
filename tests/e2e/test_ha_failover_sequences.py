"""Failover sequences under browser-like clients: nobody signed out, no false replay alarm.

The deployment an operator builds from the docs: a master, one replica, three sentinels
(down-after 2 s), or a Cluster of 3 masters and 3 replicas; one verifier with 2 workers
behind nginx, `VERIFIER_REDIS_MIN_REPLICAS=1` (every answered rotation is on a replica) and
access tokens of 3 s, so refreshes cross every fault. The planned switches (writes paused
while the replica catches up, then SENTINEL FAILOVER; CLUSTER FAILOVER, which does that by
itself) run with the default settings instead: they must lose nothing either. Signed-in
clients use the stack as a busy page does (`browser_like_client`): a request every 20 ms and
a second one beside it now and then, sharing one cookie jar.

Each sequence asserts what a user and an operator must see: no client is ever sent to sign
in (401), no `refresh.replayed` record (the theft signal an operator pages on) and no
session revoked, and every client is served again at the end. Answers of 503 (the
verifier's, for a write no replica confirmed, or while no master is known) are allowed
during a fault: the client keeps its cookies. The figures of each run are printed as one
`FAILOVER-SEQUENCE {json}` line.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import redis
from browser_like_client import BrowserLikeClient, all_running, statuses
from conftest import NGINX_BINARIES, running_stack
from e2e_helpers import log_records, new_user, wait_until
from redis_topologies import (
    SENTINEL_MASTER,
    SETTLE_SECONDS,
    RedisClusterDeployment,
    SentinelDeployment,
    start_server,
    wait_for,
)

from verifier.demo import processes
from verifier.demo.processes import ProcessStartError

if TYPE_CHECKING:
    from conftest import RedisServer, Stack

pytestmark = pytest.mark.ha

CLIENTS = 3
ACCESS_TTL_SECONDS = 3
# The production default: a falsely "replayed" token shows once the grace window is over.
REFRESH_GRACE_SECONDS = 10
DEFAULT_SETTINGS = {
    "VERIFIER_ACCESS_TTL_SECONDS": str(ACCESS_TTL_SECONDS),
    "VERIFIER_REFRESH_GRACE_SECONDS": str(REFRESH_GRACE_SECONDS),
}
SEQUENCE_SETTINGS = {**DEFAULT_SETTINGS, "VERIFIER_REDIS_MIN_REPLICAS": "1"}
# How long a planned switch pauses writes on the old master at most: far longer than the
# replica needs to catch up and the sentinels to promote it; UNPAUSE ends it sooner.
PLANNED_PAUSE_MILLISECONDS = 20_000
# The operator's schedule of the reported sequence: the new master is killed this long
# after the forced failover, before the old master has become its replica.
KILL_AFTER_FAILOVER_SECONDS = 5.0
# Rotations each client must get after the last fault: together longer than the grace
# window, so a token wrongly kept as "previous" would be refused as a replay by then.
ROTATIONS_AFTER = REFRESH_GRACE_SECONDS // ACCESS_TTL_SECONDS + 2
RUN_TIMEOUT_SECONDS = 300
# A manual CLUSTER FAILOVER that gets no majority gives up after 5 s: then ask again.
FAILOVER_RETRY_SECONDS = 6.0


def _node(port: int) -> redis.Redis:
    return redis.Redis(host=processes.LOOPBACK, port=port, decode_responses=True, socket_timeout=2)


@contextlib.contextmanager
def _owned(deployment: SentinelDeployment | RedisClusterDeployment, what: str) -> Iterator[None]:
    try:
        try:
            deployment.start()
        except (ProcessStartError, FileNotFoundError) as error:
            pytest.fail(f"{what} did not start: {error}", pytrace=False)
        yield
    finally:
        processes_started = (
            deployment.servers.values()
            if isinstance(deployment, SentinelDeployment)
            else deployment.nodes.values()
        )
        for process in processes_started:
            with contextlib.suppress(ProcessLookupError):
                if process.is_running():
                    process.send_signal(signal.SIGCONT)
        deployment.stop()
        shutil.rmtree(deployment.workdir, ignore_errors=True)


@pytest.fixture
def sentinel() -> Iterator[SentinelDeployment]:
    """A Sentinel deployment for this test alone: its faults leave it changed."""
    deployment = SentinelDeployment(Path(tempfile.mkdtemp(prefix="verifier-e2e-sequence-")))
    with _owned(deployment, "Redis Sentinel"):
        yield deployment


@pytest.fixture
def cluster() -> Iterator[RedisClusterDeployment]:
    """A Redis Cluster for this test alone: its failovers leave it changed."""
    deployment = RedisClusterDeployment(Path(tempfile.mkdtemp(prefix="verifier-e2e-sequence-")))
    with _owned(deployment, "Redis Cluster"):
        yield deployment


def _server_on(deployment: SentinelDeployment, port: int) -> str:
    """The name ("master" or "replica") of the server listening on `port`."""
    return "master" if port == deployment.master_port else "replica"


def _sentinel_failover(deployment: SentinelDeployment) -> None:
    """SENTINEL FAILOVER, asked again while the sentinels refuse it (no good replica yet)."""

    def accepted() -> bool:
        with _node(deployment.sentinel_ports[0]) as sentinel:
            try:
                sentinel.execute_command("SENTINEL", "FAILOVER", SENTINEL_MASTER)
            except redis.exceptions.ResponseError:
                return False  # NOGOODSLAVE / INPROG: not yet
            return True

    wait_for(accepted, "the sentinels to accept a failover")


def _new_master(deployment: SentinelDeployment, old: int) -> int:
    wait_for(lambda: deployment.current_master_port() != old, "the sentinels to name a new master")
    return deployment.current_master_port()


def _whole(deployment: SentinelDeployment) -> bool:
    """Whichever server is master: the other is its replica in sync, and every sentinel
    names that master with one replica and the other two sentinels."""
    master = deployment.current_master_port()
    other = deployment.replica_port if master == deployment.master_port else deployment.master_port
    with _node(other) as replica:
        replication = replica.info("replication")
        if replication.get("master_link_status") != "up":
            return False
        if int(replication["master_port"]) != master:
            return False
    for port in deployment.sentinel_ports:
        with _node(port) as sentinel:
            state = sentinel.sentinel_master(SENTINEL_MASTER)
            if int(state["port"]) != master or state["is_sdown"] or state["is_odown"]:
                return False
            if state["num-slaves"] != 1:
                return False
    return True


def _restart(deployment: SentinelDeployment, name: str) -> None:
    """Start a killed server again with its own options (the replica: of the first master)."""
    process = deployment.servers[name]
    argv = list(process.argv)
    port = int(argv[argv.index("--port") + 1])
    options = argv[argv.index("--dir") + 2 :]
    deployment.servers[name] = start_server(deployment.workdir, name, port, *options)


def _planned_sentinel_switch(deployment: SentinelDeployment) -> None:
    """The documented lossless switch: pause writes, let the replica catch up, fail over,
    and lift the pause only once the old master has become a replica.

    What the operator runs with redis-cli (docs: "A planned switch"), step for step. The
    pause must outlast the old master's demotion: lifted while it still calls itself master,
    the writes it held would run there, be answered, and be lost when it resyncs.
    """
    old = deployment.current_master_port()
    replica = deployment.replica_port if old == deployment.master_port else deployment.master_port
    with _node(old) as master:
        master.execute_command("CLIENT", "PAUSE", PLANNED_PAUSE_MILLISECONDS, "WRITE")
        written = int(master.info("replication")["master_repl_offset"])

    def caught_up() -> bool:
        with _node(replica) as node:
            return int(node.info("replication")["slave_repl_offset"]) >= written

    wait_for(caught_up, "the replica to hold every write of the paused master")
    _sentinel_failover(deployment)
    _new_master(deployment, old)
    wait_for(lambda: _role(old) == "slave", "the sentinels to make the old master a replica")
    with _node(old) as demoted:
        demoted.execute_command("CLIENT", "UNPAUSE")


def _cluster_failover(deployment: RedisClusterDeployment, master: int) -> None:
    """CLUSTER FAILOVER (coordinated) on `master`'s replica, asked again until it takes.

    A master refuses to vote twice for the same slots within twice the node timeout, and a
    manual failover that gets no majority gives up after 5 s: back to back, ask again.
    """
    (replica,) = [
        port for port in deployment.ports if port != master and _replica_of(port) == master
    ]

    asked_at: list[float] = []

    def promoted() -> bool:
        if _role(replica) == "master":
            return True
        # Asked again only once the last request had its 5 s to get a majority.
        if not asked_at or time.monotonic() - asked_at[-1] > FAILOVER_RETRY_SECONDS:
            with _node(replica) as node:
                node.execute_command("CLUSTER", "FAILOVER")
            asked_at.append(time.monotonic())
        return False

    wait_for(promoted, f"the replica of {master} to take over")
    wait_for(deployment.is_whole, "the cluster whole again")


def _role(port: int) -> str:
    with _node(port) as node:
        return str(node.info("replication")["role"])


def _replica_of(port: int) -> int | None:
    with _node(port) as node:
        replication = node.info("replication")
        return int(replication["master_port"]) if replication["role"] == "slave" else None


def _signed_in_clients(stack: Stack) -> list[BrowserLikeClient]:
    clients = []
    for _ in range(CLIENTS):
        name, password = new_user(stack, "sequence")
        client = BrowserLikeClient(stack.url(""), stack.refresh_cookie)
        client.sign_in(name, password)
        clients.append(client)
    return clients


def _wait_rotations(
    stack: Stack, clients: list[BrowserLikeClient], since: float, count: int
) -> None:
    wait_until(
        lambda: all(client.rotations_since(since) >= count for client in clients),
        lambda: (
            f"every client to rotate {count} times: {_figures(clients, since)} "
            + str(_denials(stack))
        ),
        SETTLE_SECONDS,
    )


def _denials(stack: Stack) -> dict[str, int]:
    """Why the verifier said 401, counted by reason (for a failure's message)."""
    reasons: dict[str, int] = {}
    for record in log_records(stack):
        message = str(record.get("message", ""))
        if message.startswith("denied "):
            reason = message.split(": ", 1)[-1]
            reasons[reason] = reasons.get(reason, 0) + 1
    return reasons


def _figures(clients: list[BrowserLikeClient], since: float) -> dict[str, Any]:
    answers = [answer for client in clients for answer in client.snapshot() if answer.at >= since]
    return {
        "requests": len(answers),
        "rotations": sum(1 for answer in answers if answer.rotated),
        "by_status": statuses(answers),
        "signed_out": sum(1 for answer in answers if answer.status == 401),
    }


def _alarms(stack: Stack) -> list[dict[str, Any]]:
    """Replay records and session revocations: none may come from a failover."""
    return [
        record
        for record in log_records(stack)
        if record.get("event") in {"refresh.replayed", "session.revoked"}
    ]


def _assert_nobody_signed_out(
    stack: Stack, clients: list[BrowserLikeClient], started: float, sequence: str
) -> None:
    figures = _figures(clients, started)
    figures["sequence"] = sequence
    figures["alarms"] = len(_alarms(stack))
    print(f"\nFAILOVER-SEQUENCE {json.dumps(figures, separators=(',', ':'))}")
    assert _alarms(stack) == [], figures
    for client in clients:
        assert client.signed_out() == [], figures
        assert client.snapshot()[-1].status == 200, figures


@pytest.mark.timeout(RUN_TIMEOUT_SECONDS)
def test_forced_failover_then_kill_of_the_new_master_signs_nobody_out(
    sentinel: SentinelDeployment, redis_server: RedisServer
) -> None:
    with running_stack(
        NGINX_BINARIES[0], redis_server, SEQUENCE_SETTINGS, label="sequence", topology=sentinel
    ) as stack:
        clients = _signed_in_clients(stack)
        started = time.monotonic()
        with all_running(clients):
            _wait_rotations(stack, clients, started, 2)
            first = sentinel.current_master_port()
            _sentinel_failover(sentinel)
            second = _new_master(sentinel, first)
            # The schedule of the report, not a wait for a condition: the new master dies
            # while the old one has not yet become its replica.
            time.sleep(KILL_AFTER_FAILOVER_SECONDS)
            killed = _server_on(sentinel, second)
            sentinel.servers[killed].kill()
            assert _new_master(sentinel, second) == first
            # The operator brings the dead server back; it comes back as a replica.
            _restart(sentinel, killed)
            wait_for(lambda: _whole(sentinel), "the restarted server in sync as the replica")
            _wait_rotations(stack, clients, time.monotonic(), ROTATIONS_AFTER)
        _assert_nobody_signed_out(stack, clients, started, "forced failover, kill -9 new master")


@pytest.mark.timeout(RUN_TIMEOUT_SECONDS)
def test_back_to_back_forced_failovers_sign_nobody_out(
    sentinel: SentinelDeployment, redis_server: RedisServer
) -> None:
    with running_stack(
        NGINX_BINARIES[0], redis_server, SEQUENCE_SETTINGS, label="sequence", topology=sentinel
    ) as stack:
        clients = _signed_in_clients(stack)
        started = time.monotonic()
        with all_running(clients):
            _wait_rotations(stack, clients, started, 2)
            master = sentinel.current_master_port()
            for _ in range(3):
                # The next failover as soon as the sentinels take it: the old master may
                # not have caught up as a replica yet, or even become one.
                _sentinel_failover(sentinel)
                master = _new_master(sentinel, master)
            wait_for(lambda: _whole(sentinel), "the deployment whole again")
            _wait_rotations(stack, clients, time.monotonic(), ROTATIONS_AFTER)
        _assert_nobody_signed_out(stack, clients, started, "3 forced failovers back to back")


@pytest.mark.timeout(RUN_TIMEOUT_SECONDS)
def test_a_planned_sentinel_switch_loses_nothing_with_the_default_settings(
    sentinel: SentinelDeployment, redis_server: RedisServer
) -> None:
    with running_stack(
        NGINX_BINARIES[0], redis_server, DEFAULT_SETTINGS, label="sequence", topology=sentinel
    ) as stack:
        clients = _signed_in_clients(stack)
        started = time.monotonic()
        with all_running(clients):
            _wait_rotations(stack, clients, started, 2)
            for _ in range(2):  # there and back
                _planned_sentinel_switch(sentinel)
                wait_for(lambda: _whole(sentinel), "the old master a replica again")
                _wait_rotations(stack, clients, time.monotonic(), 2)
            _wait_rotations(stack, clients, time.monotonic(), ROTATIONS_AFTER)
        _assert_nobody_signed_out(stack, clients, started, "planned switch (default settings)")


@pytest.mark.timeout(RUN_TIMEOUT_SECONDS)
@pytest.mark.parametrize(
    ("settings", "rounds"),
    [(SEQUENCE_SETTINGS, 2), (DEFAULT_SETTINGS, 1)],
    ids=["min-replicas-1-back-to-back", "default-settings"],
)
def test_cluster_failovers_of_every_master_sign_nobody_out(
    cluster: RedisClusterDeployment,
    redis_server: RedisServer,
    settings: dict[str, str],
    rounds: int,
) -> None:
    with running_stack(
        NGINX_BINARIES[0], redis_server, settings, label="sequence", topology=cluster
    ) as stack:
        clients = _signed_in_clients(stack)
        started = time.monotonic()
        with all_running(clients):
            _wait_rotations(stack, clients, started, 2)
            for _ in range(rounds):
                for master in cluster.master_ports():
                    _cluster_failover(cluster, master)
            _wait_rotations(stack, clients, time.monotonic(), ROTATIONS_AFTER)
        _assert_nobody_signed_out(
            stack, clients, started, f"cluster failover of every master x{rounds}"
        )
