"""verifier.users.passwords: argon2id off the event loop, at low CPU priority, same cost for all.

Same cost for all includes imported htpasswd accounts: see the plan tests at the end.
"""

from __future__ import annotations

import asyncio
import os
import threading

import argon2
import pytest

from verifier.errors import PasswordCheckBusy
from verifier.users.legacy_hashes import MAX_BCRYPT_COST, MIN_BCRYPT_COST, LegacyScheme, bcrypt_cost
from verifier.users.passwords import HASHING_NICENESS, Check, PasswordHasher, is_native_hash


@pytest.fixture
def hasher() -> PasswordHasher:
    return PasswordHasher(max_parallel=1)


def test_right_password_verifies_and_wrong_one_does_not(hasher: PasswordHasher) -> None:
    async def scenario() -> tuple[bool, bool]:
        stored = await hasher.hash("correct horse battery staple")
        return (
            await hasher.verify(stored, "correct horse battery staple"),
            await hasher.verify(stored, "correct horse battery stapler"),
        )

    assert asyncio.run(scenario()) == (True, False)
    hasher.close()


def test_long_passwords_are_not_truncated(hasher: PasswordHasher) -> None:
    password = "p" * 200

    async def scenario() -> tuple[bool, bool]:
        stored = await hasher.hash(password)
        return await hasher.verify(stored, password), await hasher.verify(stored, password[:-1])

    assert asyncio.run(scenario()) == (True, False)
    hasher.close()


def test_unknown_user_fails_after_a_real_verification(hasher: PasswordHasher) -> None:
    # Even the dummy hash's own password must not let a missing user in.
    assert asyncio.run(hasher.verify(None, "verifier-dummy-password")) is False
    hasher.close()


def test_garbage_stored_hash_fails_instead_of_raising(hasher: PasswordHasher) -> None:
    assert asyncio.run(hasher.verify("not-an-argon2-hash", "anything")) is False
    assert hasher.needs_rehash("not-an-argon2-hash")
    hasher.close()


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="no per-thread priorities")
def test_hashing_threads_run_at_the_lowest_cpu_priority(hasher: PasswordHasher) -> None:
    asyncio.run(hasher.hash("anything"))
    threads = [t for t in threading.enumerate() if t.name.startswith("argon2")]

    assert threads
    for thread in threads:
        assert thread.native_id is not None
        assert os.getpriority(os.PRIO_PROCESS, thread.native_id) == HASHING_NICENESS
    # ...and the event loop's own thread keeps its normal priority.
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < HASHING_NICENESS
    hasher.close()


class QueuedTogetherHashedAMinuteApart:
    """A clock on which every check is queued at 0 s and each hash takes a minute.

    Read on the event loop (a check being queued), it says 0; read by the hashing thread
    (a check being taken up), it says 0 the first time, then a minute later each time.
    """

    def __init__(self) -> None:
        self._taken_up = 0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        if not threading.current_thread().name.startswith("argon2"):
            return 0.0
        with self._lock:
            self._taken_up += 1
            return 60.0 * (self._taken_up - 1)


def test_checks_queued_past_the_limit_are_dropped_and_the_first_runs() -> None:
    # One thread, twenty checks queued at once: the first is taken up at once, each of the
    # others only after at least one minute-long hash, far past the 5 s limit.
    maker = PasswordHasher()
    stored = asyncio.run(maker.hash("pw"))
    maker.close()
    hasher = PasswordHasher(
        max_parallel=1, max_queue_seconds=5.0, clock=QueuedTogetherHashedAMinuteApart()
    )

    async def scenario() -> list[bool | BaseException]:
        checks = [hasher.verify(stored, "pw") for _ in range(20)]
        return await asyncio.gather(*checks, return_exceptions=True)

    outcomes = asyncio.run(scenario())
    hasher.close()

    assert outcomes[0] is True
    assert all(isinstance(o, PasswordCheckBusy) for o in outcomes[1:]), outcomes


# --- imported hashes: the same work for every account ------------------------------------------

BCRYPT_5 = "$2y$05$EedJ3Akby85WmoRwBZW5XuUSe8WxJIk1M.AJ.hgrfRaOlUjQMg/qW"  # "pw-bcrypt-1"
APR1 = "$apr1$WUuMzysm$2dLGSMAsdI9ObxfZfYXCt/"  # "pw-apr1-1"
SHA1 = "{SHA}4w1sdKqeiAjlXDN4mcF3DXVTuSI="  # "pw-sha-1"


def _work(checks: tuple[Check, ...]) -> tuple[int, int, int, int]:
    """What a plan costs: argon2, apr1 and SHA-1 checks, and bcrypt work in cost-0 units."""
    argon2 = sum(1 for check in checks if check.scheme is None)
    apr1 = sum(1 for check in checks if check.scheme is LegacyScheme.APR1)
    sha1 = sum(1 for check in checks if check.scheme is LegacyScheme.SHA1)
    bcrypt_units = sum(
        2 ** (bcrypt_cost(check.against) or 0)
        for check in checks
        if check.scheme is LegacyScheme.BCRYPT
    )
    return argon2, apr1, sha1, bcrypt_units


@pytest.mark.parametrize("ceiling", [None, 4, 5, 9, 12])
def test_every_kind_of_account_costs_the_same_work(
    hasher: PasswordHasher, ceiling: int | None
) -> None:
    native = asyncio.run(hasher.hash("a native password"))
    bcrypt_4 = BCRYPT_5.replace("$05$", "$04$")
    accounts: list[str | None] = [None, native, APR1, SHA1]
    if ceiling is not None:
        accounts += [BCRYPT_5, bcrypt_4] if ceiling >= 5 else [bcrypt_4]

    work = {account: _work(hasher.plan(account, ceiling)) for account in accounts}

    assert len(set(work.values())) == 1, work
    argon2, apr1, sha1, bcrypt_units = work[None]
    assert (argon2, apr1, sha1) == (1, 1, 1)
    assert bcrypt_units == (2**ceiling if ceiling is not None else 0)
    hasher.close()


def test_only_the_stored_hash_decides(hasher: PasswordHasher) -> None:
    for stored in (None, BCRYPT_5, APR1, SHA1):
        real = [check for check in hasher.plan(stored, 9) if check.real]
        assert [check.against for check in real] == ([stored] if stored else [])
    hasher.close()


@pytest.mark.parametrize(
    ("stored", "password"), [(BCRYPT_5, "pw-bcrypt-1"), (APR1, "pw-apr1-1"), (SHA1, "pw-sha-1")]
)
def test_imported_hashes_verify_and_ask_for_a_rehash(
    hasher: PasswordHasher, stored: str, password: str
) -> None:
    async def scenario() -> tuple[bool, bool, bool]:
        return (
            await hasher.verify(stored, password, 6),
            await hasher.verify(stored, password + "!", 6),
            # Even the dummies' own password must not pass for an imported account.
            await hasher.verify(stored, "verifier-dummy-password", 6),
        )

    assert asyncio.run(scenario()) == (True, False, False)
    assert hasher.needs_rehash(stored)
    hasher.close()


def test_a_damaged_ceiling_is_clamped_not_obeyed(hasher: PasswordHasher) -> None:
    assert _work(hasher.plan(None, 31))[3] == 2**MAX_BCRYPT_COST
    assert _work(hasher.plan(None, -5))[3] == 2**MIN_BCRYPT_COST
    hasher.close()


def test_only_argon2id_hashes_no_costlier_than_ours_count_as_native() -> None:
    ours = argon2.PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1).hash("pw")
    cheaper = argon2.PasswordHasher(time_cost=1, memory_cost=8_192, parallelism=1).hash("pw")
    assert is_native_hash(ours)
    assert is_native_hash(cheaper)  # an older configuration: upgraded at the next sign-in
    for costlier in (
        argon2.PasswordHasher(time_cost=3, memory_cost=19_456, parallelism=1).hash("pw"),
        argon2.PasswordHasher(time_cost=2, memory_cost=65_536, parallelism=1).hash("pw"),
        argon2.PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=2).hash("pw"),
    ):
        assert not is_native_hash(costlier)
    argon2i = argon2.PasswordHasher(type=argon2.Type.I).hash("pw")
    for other in (
        argon2i,
        ours.rsplit("$", 1)[0],
        ours.replace("$v=19$", "$v=16$"),
        "$2y$05$x",
        "",
    ):
        assert not is_native_hash(other)
