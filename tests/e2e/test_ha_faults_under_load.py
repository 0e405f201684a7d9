"""Faults under load through nginx, on Sentinel and on Cluster, with two verifiers.

Each topology's run starts a deployment of its own and two verifier processes (2 workers
each) behind one nginx upstream, signs in several users, revokes one more session and
keeps sending its cookie, and drives the load of `fault_load.FaultLoad` (valid access
tokens, and refreshes that rotate on every request) through four faults in turn, each on
the master that serves the revoked user's slot at the time: a forced failover (`SENTINEL
FAILOVER`, `CLUSTER FAILOVER` on its replica), SIGSTOP (SIGCONT once a new master took
over), SIGKILL, and then SIGKILL of one of the two verifiers. After the first two the old
master must come back as a replica (the next fault needs one). Each fault asserts only
correctness: the revoked session is never let through, and every request succeeds again
within a deadline, waited for, without a restart. The figures of each (requests, answers
by status before/during/after the switch, how long it took, sessions lost) are printed as
one `FAULT-RUN {json}` line and written to `faults.json` in the test's temporary
directory; they are never asserted (the machine may be busy).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import redis
import requests
from conftest import NGINX_BINARIES, running_stack
from e2e_helpers import (
    cookie_header,
    expired_access_token,
    get_page,
    new_user,
    post_logout,
    sign_in,
    wait_until,
)
from fault_load import (
    RECOVERY_DEADLINE_SECONDS,
    FaultLoad,
    RefreshingUser,
    by_status,
    figures,
    two_verifier_conf,
)
from redis_topologies import (
    SENTINEL_MASTER,
    RedisClusterDeployment,
    SentinelDeployment,
    wait_for,
)

from verifier.demo import processes
from verifier.demo.processes import ManagedProcess, ProcessStartError
from verifier.store.keyspace import KeySpace

if TYPE_CHECKING:
    from conftest import RedisServer, Stack

pytestmark = pytest.mark.ha

Deployment = RedisClusterDeployment | SentinelDeployment
STEADY_USERS = 4
REFRESHING_USERS = 2
# Answers before the fault, so the load is steady (and the workers have cached the
# sessions) when it strikes; and after recovery, to see the switch is over.
ANSWERS_BEFORE = 300
ANSWERS_AFTER = 300
RUN_TIMEOUT_SECONDS = 600
# How long a replica may take to acknowledge the writes made before the fault.
REPLICATION_WAIT_MILLISECONDS = 5000


@dataclass
class Pair:
    """Two verifiers behind one nginx, on one Redis deployment."""

    stack: Stack
    second: ManagedProcess
    base_url: str


@dataclass
class Population:
    """The signed-in users of a run and the session revoked before the fault."""

    names: list[str]
    steady_cookies: list[str]
    refreshing: list[RefreshingUser]
    revoked_name: str
    revoked_cookie: str
    # Name and password of each refreshing user, to sign in again after a lost session.
    refreshing_logins: list[tuple[str, str]]
    # Cookie header (both cookies) of a session signed in before the faults and revoked
    # while the master is stopped: the woken old master still holds it.
    revoked_during_stop: str


@dataclass
class Run:
    """What a fault needs to strike: the deployment, the pair and the master to hit."""

    deployment: Deployment
    pair: Pair
    target_port: int

    def target_process(self) -> ManagedProcess:
        """The redis-server process of the master to hit."""
        if isinstance(self.deployment, SentinelDeployment):
            (process,) = [
                process
                for name, process in self.deployment.servers.items()
                if not name.startswith("sentinel") and _port_of(process) == self.target_port
            ]
            return process
        return self.deployment.nodes[self.target_port]


# A fault strikes, and returns what to do once the verifiers recovered (None: nothing).
Strike = Callable[[Run], Callable[[], None] | None]


def _port_of(process: ManagedProcess) -> int:
    for option in ("--port", "--tls-port"):
        if option in process.argv and process.argv[process.argv.index(option) + 1] != "0":
            return int(process.argv[process.argv.index(option) + 1])
    raise AssertionError(f"no port in {process.argv}")


def _node(port: int) -> redis.Redis:
    return redis.Redis(host=processes.LOOPBACK, port=port, decode_responses=True, socket_timeout=2)


def _is_replica_in_sync(port: int) -> bool:
    with _node(port) as node:
        replication = node.info("replication")
        return bool(
            replication["role"] == "slave" and replication.get("master_link_status") == "up"
        )


def _kill_master(run: Run) -> None:
    run.target_process().kill()


def _stop_master(run: Run) -> Callable[[], None]:
    process = run.target_process()
    process.send_signal(signal.SIGSTOP)

    def cont() -> None:
        process.send_signal(signal.SIGCONT)
        # Sentinel (or the cluster bus) makes the old master a replica of the new one.
        wait_for(lambda: _is_replica_in_sync(run.target_port), "old master back as a replica")

    return cont


def _forced_failover(run: Run) -> None:
    if isinstance(run.deployment, SentinelDeployment):
        with _node(run.deployment.sentinel_ports[0]) as sentinel:
            sentinel.execute_command("SENTINEL", "FAILOVER", SENTINEL_MASTER)
        return
    (replica,) = [
        port
        for port in run.deployment.ports
        if port != run.target_port and _replica_of(port) == run.target_port
    ]
    with _node(replica) as node:
        node.execute_command("CLUSTER", "FAILOVER")


def _replica_of(port: int) -> int | None:
    with _node(port) as node:
        replication = node.info("replication")
        return int(replication["master_port"]) if replication["role"] == "slave" else None


def _kill_one_verifier(run: Run) -> None:
    # SIGKILL to the gunicorn master and, by its process group, to its workers: a crash.
    run.pair.second.kill()


@contextlib.contextmanager
def _own(deployment: Deployment, what: str) -> Iterator[Deployment]:
    try:
        try:
            deployment.start()
        except (ProcessStartError, FileNotFoundError) as error:
            pytest.fail(f"{what} did not start: {error}", pytrace=False)
        yield deployment
    finally:
        # A stopped process would ignore the SIGTERM of stop(): continue it first.
        for process in _all_processes(deployment):
            with contextlib.suppress(ProcessLookupError):
                if process.is_running():
                    process.send_signal(signal.SIGCONT)
        deployment.stop()
        shutil.rmtree(deployment.workdir, ignore_errors=True)


def _all_processes(deployment: Deployment) -> list[ManagedProcess]:
    if isinstance(deployment, SentinelDeployment):
        return list(deployment.servers.values())
    return list(deployment.nodes.values())


def _workdir(label: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"verifier-e2e-{label}-"))


@pytest.fixture
def own_sentinel() -> Iterator[Deployment]:
    """A Sentinel deployment for this test alone: its fault leaves it changed."""
    with _own(SentinelDeployment(_workdir("fault-sentinel")), "Redis Sentinel") as started:
        yield started


@pytest.fixture
def own_cluster() -> Iterator[Deployment]:
    """A Redis Cluster for this test alone: its fault leaves it changed."""
    with _own(RedisClusterDeployment(_workdir("fault-cluster")), "Redis Cluster") as started:
        yield started


@contextlib.contextmanager
def _two_verifiers(redis_server: RedisServer, deployment: Deployment, label: str) -> Iterator[Pair]:
    with running_stack(NGINX_BINARIES[0], redis_server, label=label, topology=deployment) as stack:
        prefix = _workdir("fault-pair")
        prefix.chmod(0o755)  # nginx's workers run as nobody when the tests run as root
        second: ManagedProcess | None = None
        nginx: ManagedProcess | None = None
        try:
            second_port = processes.free_port()
            # Metrics off: the first verifier holds the stack's metrics address.
            second = processes.start_verifier(
                {**stack.env, "VERIFIER_METRICS_BIND": "off"},
                second_port,
                stack.workers,
                log_dir=prefix,
            )
            first_port = int(stack.verifier_url.rsplit(":", 1)[1])
            app_port = int(stack.app_url.rsplit(":", 1)[1])
            listen_port, conf = two_verifier_conf(prefix, [first_port, second_port], app_port)
            nginx = processes.start_nginx(stack.nginx.path, prefix, conf, port=listen_port)
            yield Pair(stack, second, f"http://{processes.LOOPBACK}:{listen_port}")
        finally:
            if nginx is not None:
                nginx.stop()
            if second is not None:
                second.stop()
            shutil.rmtree(prefix, ignore_errors=True)


def _sign_in_everyone(stack: Stack) -> Population:
    names = []
    steady = []
    for _ in range(STEADY_USERS):
        name, password = new_user(stack, "steady")
        signed = sign_in(stack, name, password)
        names.append(name)
        steady.append(cookie_header(stack, signed.access))
    refreshing = []
    logins = []
    for _ in range(REFRESHING_USERS):
        name, password = new_user(stack, "refreshing")
        signed = sign_in(stack, name, password)
        names.append(name)
        logins.append((name, password))
        expired = expired_access_token(stack, name, signed.session_id)
        refreshing.append(RefreshingUser(expired, signed.refresh))
    name, password = new_user(stack, "revoked")
    signed = sign_in(stack, name, password)
    revoked_cookie = cookie_header(stack, signed.access)
    assert get_page(stack, cookie=revoked_cookie).status_code == 200  # cached as live
    response = post_logout(stack, cookie_header(stack, signed.access, signed.refresh))
    assert response.status_code == 200, response.text
    wait_until(
        lambda: get_page(stack, cookie=revoked_cookie).status_code == 401,
        "the logged-out session denied",
    )
    spare_name, spare_password = new_user(stack, "revoked-later")
    spare = sign_in(stack, spare_name, spare_password)
    names.append(spare_name)
    spare_cookie = cookie_header(stack, spare.access, spare.refresh)
    assert get_page(stack, cookie=cookie_header(stack, spare.access)).status_code == 200
    return Population(names, steady, refreshing, name, revoked_cookie, logins, spare_cookie)


def _master_port_of(deployment: Deployment, key: str) -> int:
    if isinstance(deployment, SentinelDeployment):
        return deployment.current_master_port()
    return deployment.port_serving(key)


def _master_now(deployment: Deployment, key: str, avoid: int) -> int:
    """The master serving `key` now, as the sentinels or a node other than `avoid` say."""
    if isinstance(deployment, SentinelDeployment):
        return deployment.current_master_port()
    for port in deployment.ports:
        if port == avoid:
            continue  # it may be stopped: asking it would hang until the timeout
        with contextlib.suppress(redis.exceptions.RedisError, OSError), _node(port) as node:
            slot = int(node.cluster("KEYSLOT", key))
            for start, end, master, *_ in node.execute_command("CLUSTER SLOTS"):
                if start <= slot <= end:
                    return int(master[1])
    return avoid


def _wait_replicated(deployment: Deployment, stack: Stack, names: list[str]) -> None:
    """Wait until a replica holds every write made so far for these users.

    A write of our own in each user's slot, acknowledged by WAIT: replication is one
    ordered stream per master, so the logins and the logout before it are on the replica.
    The fault runs measure failover under load, not the replication lag of the setup.
    """
    keys = KeySpace(stack.key_prefix)
    for name in names:
        probe = keys.user(name) + ":replication-probe"
        with _node(_master_port_of(deployment, probe)) as master:
            master.set(probe, "1", px=60_000)
            acknowledged = master.wait(1, REPLICATION_WAIT_MILLISECONDS)
            assert acknowledged >= 1, f"no replica acknowledged the writes of {name}"


def _sessions_lost(pair: Pair, population: Population, load: FaultLoad) -> int:
    """Signed-in users who are denied now (after recovery): their session was lost."""
    lost = sum(1 for cookie in population.steady_cookies if _status(pair, cookie) != 200)
    return lost + len(_lost_refreshing(pair, load))


def _lost_refreshing(pair: Pair, load: FaultLoad) -> list[int]:
    """The refreshing users whose latest refresh token is denied now."""
    stack = pair.stack
    return [
        index
        for index, user in enumerate(list(load.refreshing))
        if _status(pair, cookie_header(stack, user.expired_access, user.refresh)) != 200
    ]


def _renew_lost_refreshing(pair: Pair, population: Population, load: FaultLoad) -> int:
    """Sign in again the refreshing users an earlier fault left without a session."""
    stack = pair.stack
    lost = _lost_refreshing(pair, load)
    for index in lost:
        name, password = population.refreshing_logins[index]
        signed = sign_in(stack, name, password)
        expired = expired_access_token(stack, name, signed.session_id)
        load.renew(index, RefreshingUser(expired, signed.refresh))
    return len(lost)


def _status(pair: Pair, cookie: str) -> int:
    return requests.get(
        pair.base_url + "/api/whoami",
        headers={"Cookie": cookie, "Accept": "application/json"},
        allow_redirects=False,
        timeout=10,
    ).status_code


@dataclass
class Phase:
    """One fault of a run: what strikes, and whether a new master must take over."""

    name: str
    strike: Strike
    switches_master: bool
    # The old master must be back as a replica afterwards (the next fault needs one).
    rejoins: bool


# In this order on one deployment: each fault but the last leaves it whole again.
PHASES = [
    Phase("forced failover", _forced_failover, switches_master=True, rejoins=True),
    Phase("SIGSTOP master", _stop_master, switches_master=True, rejoins=True),
    Phase("kill -9 master", _kill_master, switches_master=True, rejoins=False),
    Phase("kill -9 verifier", _kill_one_verifier, switches_master=False, rejoins=False),
]


def _whole_again(deployment: Deployment, old_master: int, new_master: int) -> bool:
    """The old master is a replica in sync and the deployment knows it as one."""
    if isinstance(deployment, RedisClusterDeployment):
        return deployment.is_whole()
    if not _is_replica_in_sync(old_master):
        return False
    for port in deployment.sentinel_ports:
        with _node(port) as sentinel:
            _host, master_port = sentinel.sentinel_get_master_addr_by_name(SENTINEL_MASTER)
            replicas = sentinel.sentinel_slaves(SENTINEL_MASTER)
            if int(master_port) != new_master or len(replicas) != 1:
                return False
            if replicas[0]["is_sdown"] or replicas[0].get("master-link-status") != "ok":
                return False
    return True


def _run_phase(
    phase: Phase,
    load: FaultLoad,
    deployment: Deployment,
    pair: Pair,
    population: Population,
    topology: str,
) -> dict[str, Any]:
    revoked_key = KeySpace(pair.stack.key_prefix).user(population.revoked_name)
    target = _master_now(deployment, revoked_key, avoid=-1)
    renewed = _renew_lost_refreshing(pair, population, load)
    first = len(load.snapshot())
    wait_until(
        lambda: load.count_since(first, "user") >= ANSWERS_BEFORE,
        f"{ANSWERS_BEFORE} answers to signed-in users before the fault",
    )
    fault_at = time.monotonic()
    follow_up = phase.strike(Run(deployment, pair, target))
    extra: dict[str, Any] = {}
    if phase.switches_master:
        # Recovery counts only once another master serves the slot: a forced failover,
        # for one, happens a moment after the command returns.
        wait_for(
            lambda: _master_now(deployment, revoked_key, avoid=target) != target,
            "another master for the revoked user's slot",
        )
        extra["seconds_to_new_master"] = round(time.monotonic() - fault_at, 3)
    since = len(load.snapshot())
    wait_until(
        lambda: load.recovered(since=since),
        lambda: (
            "a recovery: "
            + str(
                figures(load.snapshot()[first:], phase.name, topology, fault_at, time.monotonic())
            )
        ),
        RECOVERY_DEADLINE_SECONDS,
    )
    recovered_at = time.monotonic()
    if follow_up is not None:
        # Revoked on the new master while the old one, which still holds the session,
        # sleeps: when it wakes it must not vouch for it.
        revoked_now = population.revoked_during_stop
        assert post_logout(pair.stack, revoked_now).status_code == 200
        access_only = revoked_now.split("; ", 1)[0]
        wait_until(lambda: _status(pair, access_only) == 401, "the revoked session denied")
        load.add_revoked(access_only)
        continued_at = time.monotonic()
        follow_up()
        since = len(load.snapshot())
        wait_until(
            lambda: load.recovered(since=since),
            "a recovery after the old master continued",
            RECOVERY_DEADLINE_SECONDS,
        )
        # The old master wakes up holding connections from before: what did that cost?
        extra["after_continue_by_kind"] = {
            kind: by_status([a for a in load.snapshot() if a.at >= continued_at and a.kind == kind])
            for kind in ("user", "refresh", "revoked", "revoked-later")
        }
    if phase.rejoins:
        new_master = _master_now(deployment, revoked_key, avoid=target)
        wait_for(lambda: _whole_again(deployment, target, new_master), "old master a replica")
        extra["old_master_rejoined_as_replica"] = True
    done = len(load.snapshot())
    wait_until(
        lambda: len(load.snapshot()) >= done + ANSWERS_AFTER,
        f"{ANSWERS_AFTER} answers after the fault",
    )
    result = figures(load.snapshot()[first:], phase.name, topology, fault_at, recovered_at)
    result.update(extra)
    result["sessions_lost"] = _sessions_lost(pair, population, load)
    result["signed_in_users"] = len(population.names)
    result["refreshing_users_signed_in_again_before"] = renewed
    # The revoked session stays denied after the switch too.
    assert _status(pair, population.revoked_cookie) == 401
    return result


# Four faults in a row, each with its failover and its recovery waited for: past the
# suite's 120 s on a busy machine, but bounded.
@pytest.mark.timeout(RUN_TIMEOUT_SECONDS)
@pytest.mark.parametrize("topology", ["sentinel", "cluster"])
def test_faults_under_load_never_admit_a_revoked_session_and_the_verifiers_recover(
    topology: str,
    request: pytest.FixtureRequest,
    redis_server: RedisServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    deployment = request.getfixturevalue(f"own_{topology}")
    results = []
    with _two_verifiers(redis_server, deployment, f"fault-{topology}") as pair:
        stack = pair.stack
        population = _sign_in_everyone(stack)
        _wait_replicated(deployment, stack, [*population.names, population.revoked_name])
        load = FaultLoad(
            pair.base_url,
            stack.access_cookie,
            stack.refresh_cookie,
            population.steady_cookies,
            population.refreshing,
            population.revoked_cookie,
        )
        with load.running():
            wait_until(load.recovered, "the load steady before the faults")
            for phase in PHASES:
                result = _run_phase(phase, load, deployment, pair, population, topology)
                results.append(result)
                # Each run's figures as soon as it ends, also when a later one fails.
                with capsys.disabled():
                    print(f"\nFAULT-RUN {json.dumps(result, separators=(',', ':'))}")
                (tmp_path / "faults.json").write_text(json.dumps(results, indent=2), "utf-8")
                assert result["false_accepts_of_revoked_session"] == 0, result
                # Revoked on the new master while the old one slept, it stays out when the
                # old one wakes still calling itself master (verifier.store.sentinel).
                assert result["false_accepts_of_session_revoked_during_stop"] == 0, result
    # Only the verifier failed in the last run: it cannot have lost a session.
    assert results[-1]["sessions_lost"] == 0, results[-1]
