"""Timing of failed sign-ins must not tell an imported account from a native one or a ghost.

The design (verifier/users/passwords.py, PasswordHasher.plan): every check is one argon2id, one
apr1 and one SHA-1 verification, each against the stored hash when it is of that scheme and
against a dummy otherwise, plus bcrypt work worth one check at the highest cost among
imported bcrypt hashes not yet replaced (a cheaper bcrypt account is topped up by dummies of
its cost and up). Here that ceiling is 10, about twice an argon2 check: without the padding,
a bcrypt-10 account would take about three times as long as a native one, and a bcrypt-5
account a third of the padded time.

Measured as the existing timing test does (test_attack_login_throttle.py): interleaved
series, so noise on the busy machine hits every series alike, and medians, so that one
hiccup does not count; never absolute seconds. Two measures: the wall time of each sign-in
as the client sees it, and the CPU time the verifier's processes spent on it (from
/proc/PID/task/*/schedstat), which other processes' load hardly changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis.asyncio as aioredis
import requests
from attack_helpers import assert_refused, fresh_user
from e2e_helpers import TIMEOUT
from htpasswd_helpers import htpasswd_line, run_verifier, write_file

from tests.parts import nginx_builds
from verifier.store.keyspace import KeySpace
from verifier.users.passwords import PasswordHasher
from verifier.users.store import UserStore

if TYPE_CHECKING:
    from conftest import Stack

ROUNDS = 21
# The password check does not depend on the nginx generation: one stack is measured. Each
# round takes about half a second, several on a loaded machine: more than the default limit.
ONE_STACK = nginx_builds()[:1]
TIMEOUT_SECONDS = 300
# The costliest imported hash: the ceiling every check pays while it waits for a sign-in.
HIGH_BCRYPT_COST = 10
# How far apart the kinds' relative medians may be. Without the padding, a bcrypt-10
# account takes 3.6x as long as the others and, without the top-up, a bcrypt-5 account 0.3x
# (both measured by breaking plan() on purpose). Wall time is what an attacker sees, but on
# a shared machine it mostly measures other people's load (the hashing runs at SCHED_IDLE):
# its bound is loose. The verifier's CPU time is the work itself, the only thing that could
# differ by account: its bound is tight.
MAX_WALL_RATIO = 1.5
MAX_CPU_RATIO = 1.15

IMPORTED_KINDS = {
    "bcrypt cost 5": "-B -C 5",
    f"bcrypt cost {HIGH_BCRYPT_COST}": f"-B -C {HIGH_BCRYPT_COST}",
    "apr1": "-m",
    "sha1": "-s",
}


def _accounts_per_kind(stack: Stack) -> int:
    # Enough accounts that none reaches its failure limit within the throttle window.
    limit = int(stack.env.get("VERIFIER_LOGIN_MAX_FAILURES_PER_ACCOUNT", "5"))
    return -(-ROUNDS // (limit - 1))


@pytest.fixture
def imported_accounts(stack: Stack, tmp_path: Path) -> Iterator[dict[str, list[str]]]:
    """Accounts of every imported kind (one import); removed afterwards, which drops the
    ceiling so the rest of the session does not pay bcrypt cost 10 on every sign-in."""
    accounts = {
        kind: [f"timed-{secrets.token_hex(4)}" for _ in range(_accounts_per_kind(stack))]
        for kind in IMPORTED_KINDS
    }
    lines = [
        htpasswd_line(options, name, secrets.token_urlsafe(12))
        for kind, options in IMPORTED_KINDS.items()
        for name in accounts[kind]
    ]
    imported = run_verifier(stack.env, "users", "import-htpasswd", str(write_file(tmp_path, lines)))
    assert imported.returncode == 0, imported.stderr
    ceiling = stack.redis.zrange(
        KeySpace(stack.key_prefix).imported_bcrypt(), 0, 0, desc=True, withscores=True
    )
    assert ceiling[0][1] == HIGH_BCRYPT_COST, ceiling
    try:
        yield accounts
    finally:
        asyncio.run(_remove_users(stack, [n for names in accounts.values() for n in names]))


async def _remove_users(stack: Stack, names: list[str]) -> None:
    client = aioredis.Redis.from_url(stack.redis_server.url)
    hasher = PasswordHasher()
    try:
        store = UserStore(client, KeySpace(stack.key_prefix), hasher)
        for name in names:
            await store.remove(name)
    finally:
        hasher.close()
        await client.aclose()


def _verifier_cpu_seconds(stack: Stack) -> float:
    """CPU time used so far by the verifier's processes (gunicorn and its workers), all threads."""
    root = stack.processes["verifier"].pid
    pids = [root]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # The parent pid is the 2nd field after the command, which is in parentheses.
            if int(stat.read_text().rpartition(")")[2].split()[1]) == root:
                pids.append(int(stat.parent.name))
    nanoseconds = 0
    for pid in pids:
        for schedstat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
            nanoseconds += int(schedstat.read_text().split()[0])
    return nanoseconds / 1e9


def _failed_login(stack: Stack, name: str) -> tuple[float, float]:
    """One failed JSON sign-in through nginx: (wall seconds, verifier CPU seconds)."""
    cpu_before = _verifier_cpu_seconds(stack)
    started = time.perf_counter()
    response = requests.post(
        stack.url("/auth/login"),
        json={"username": name, "password": "wrong-password"},
        timeout=TIMEOUT,
    )
    elapsed = time.perf_counter() - started
    cpu = _verifier_cpu_seconds(stack) - cpu_before
    assert_refused(response, 401)
    return elapsed, cpu


@pytest.mark.timeout(TIMEOUT_SECONDS)
@pytest.mark.parametrize("stack", ONE_STACK, indirect=True)
def test_imported_native_and_unknown_accounts_fail_in_the_same_time(
    stack: Stack, imported_accounts: dict[str, list[str]]
) -> None:
    per_kind = _accounts_per_kind(stack)
    accounts = {
        "native": [fresh_user(stack, "timed")[0] for _ in range(per_kind)],
        **imported_accounts,
    }
    kinds = [*accounts, "unknown"]
    wall: dict[str, list[float]] = {kind: [] for kind in kinds}
    cpu: dict[str, list[float]] = {kind: [] for kind in kinds}

    for attempt in range(ROUNDS):
        # Rotate the order too, so no kind always runs right after the same other one.
        for kind in kinds[attempt % len(kinds) :] + kinds[: attempt % len(kinds)]:
            if kind == "unknown":
                name = f"ghost-{secrets.token_hex(4)}"  # as long as the other names
            else:
                name = accounts[kind][attempt % per_kind]
            elapsed, used = _failed_login(stack, name)
            wall[kind].append(elapsed)
            cpu[kind].append(used)

    report = {
        "wall ms": {k: round(statistics.median(v) * 1000, 1) for k, v in wall.items()},
        "wall relative": _relative_medians(wall),
        "cpu ms": {k: round(statistics.median(v) * 1000, 1) for k, v in cpu.items()},
        "cpu relative": _relative_medians(cpu),
    }
    print(f"failed sign-ins ({stack.nginx.label}): {report}")
    for measure, bound in (("wall relative", MAX_WALL_RATIO), ("cpu relative", MAX_CPU_RATIO)):
        relative = report[measure]
        assert max(relative.values()) < bound * min(relative.values()), (measure, report)


def _relative_medians(timings: dict[str, list[float]]) -> dict[str, float]:
    """Each kind's median of its time over its round's median: a busy spell slows a whole
    round, so comparing within rounds cancels it, where medians of raw times only dilute it."""
    rounds = list(zip(*timings.values(), strict=True))
    ratios = {
        kind: [times[i] / statistics.median(times) for times in rounds]
        for i, kind in enumerate(timings)
    }
    return {kind: round(statistics.median(series), 3) for kind, series in ratios.items()}
