"""Password hashing with argon2id, off the event loop and bounded in concurrency."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from verifier.errors import PasswordCheckBusy

T = TypeVar("T")

# OWASP Password Storage Cheat Sheet, argon2id, first option: m=19 MiB, t=2, p=1.
# p=1 keeps one hash on one core, so a login flood cannot take both cores from /auth.
_HASHER = argon2.PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
# Hashing threads run at the lowest CPU priority Linux has: SCHED_IDLE (per thread, no
# privilege needed), or nice 19 where that is refused. The worker's own event loop then
# preempts hashing at once. Other processes (nginx) sit in other scheduling groups and can
# still wait up to a tick behind it: measured with `make bench`, a login flood took /auth
# p99 from 3.2x its quiet value (normal priority, 2 threads) to about 2x.
HASHING_NICENESS = 19

# A check still queued after this long is dropped (PasswordCheckBusy: the login answers 503
# at once) rather than started: under a flood its client would otherwise wait past nginx's
# 10 s proxy_read_timeout and get a 504 after all the work was done.
MAX_QUEUE_SECONDS = 5.0

# Longer passwords are refused before hashing: argon2 would accept them, but hashing
# megabytes per attempt is a cheap denial of service.
MAX_PASSWORD_LENGTH = 1024


class PasswordHasher:
    """Hashes and verifies passwords in a small, low-priority thread pool.

    argon2-cffi releases the GIL while hashing, so the event loop keeps serving /auth; the
    pool size caps how many hashes (19 MiB each) run at once, excess checks queue, and a
    check that queued longer than `max_queue_seconds` is dropped with PasswordCheckBusy.
    """

    def __init__(
        self,
        max_parallel: int = 1,
        max_queue_seconds: float = MAX_QUEUE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = ThreadPoolExecutor(
            max_workers=max_parallel,
            thread_name_prefix="argon2",
            initializer=_lower_thread_priority,
        )
        self._max_queue_seconds = max_queue_seconds
        # Read when a check is queued and again when a thread takes it up.
        self._clock = clock
        # Unknown users are checked against this, so they cost the same time as known ones.
        self._dummy_hash = _HASHER.hash("verifier-dummy-password")

    async def hash(self, password: str) -> str:
        """Return an argon2id hash of the password."""
        return await self._in_pool(_HASHER.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """True if the password matches; with no stored hash, spend the same time and fail."""
        candidate = stored_hash if stored_hash is not None else self._dummy_hash
        matched = await self._in_pool(_verify, candidate, password)
        return matched and stored_hash is not None

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when the hash was made with older parameters and should be replaced."""
        try:
            return _HASHER.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    def close(self) -> None:
        """Stop the worker threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _in_pool(self, work: Callable[..., T], *args: str) -> T:
        queued_at = self._clock()

        def run_unless_stale() -> T:
            waited = self._clock() - queued_at
            if waited > self._max_queue_seconds:
                raise PasswordCheckBusy(waited)
            return work(*args)

        return await asyncio.get_running_loop().run_in_executor(self._pool, run_unless_stale)


def _lower_thread_priority() -> None:
    # With a thread id, both calls change only the calling thread. Where neither is
    # supported, hashing runs at normal priority: slower /auth under a flood, nothing worse.
    thread_id = threading.get_native_id()
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, thread_id, HASHING_NICENESS)
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(thread_id, os.SCHED_IDLE, os.sched_param(0))


def _verify(stored_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
