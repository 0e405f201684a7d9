"""verifier.passwords: argon2id off the event loop, at low CPU priority, same cost for all."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from verifier.errors import PasswordCheckBusy
from verifier.passwords import HASHING_NICENESS, PasswordHasher


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
