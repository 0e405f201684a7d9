"""Password hashing with argon2id, off the event loop and bounded in concurrency.

Imported htpasswd hashes (legacy_hashes.py) are checked here too, in the same pool, and
every check costs the same whatever the account holds: see PasswordHasher.plan.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from verifier.errors import PasswordCheckBusy
from verifier.users.legacy_hashes import (
    MAX_BCRYPT_COST,
    MIN_BCRYPT_COST,
    LegacyDummies,
    LegacyScheme,
    bcrypt_cost,
    legacy_scheme,
    verify_legacy,
)

T = TypeVar("T")

# OWASP Password Storage Cheat Sheet, argon2id, first option: m=19 MiB, t=2, p=1.
# p=1 keeps one hash on one core, so a login flood cannot take both cores from /auth.
_HASHER = argon2.PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
# An argon2id hash as argon2-cffi writes it: version 19, parameters, then salt (>= 8 bytes)
# and digest (>= 16 bytes) in unpadded base64.
_ARGON2ID_PATTERN = re.compile(
    r"\$argon2id\$v=19\$m=(?P<m>[0-9]{1,10}),t=(?P<t>[0-9]{1,10}),p=(?P<p>[0-9]{1,10})"
    r"\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{22,}"
)
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


def is_native_hash(stored_hash: str) -> bool:
    """True for a well-formed argon2id hash no costlier than the ones this verifier makes."""
    match = _ARGON2ID_PATTERN.fullmatch(stored_hash)
    if match is None:
        return False
    # Every failed sign-in checks a dummy made with our parameters (PasswordHasher.plan): a
    # costlier hash brought in by an import would make its account stand out, or make each
    # of its checks take minutes. Cheaper ones are upgraded at the next sign-in.
    return (
        int(match["m"]) <= _HASHER.memory_cost
        and int(match["t"]) <= _HASHER.time_cost
        and int(match["p"]) <= _HASHER.parallelism
    )


@dataclass(frozen=True)
class Check:
    """One hash verification of a sign-in: against the stored hash (`real`) or a dummy."""

    scheme: LegacyScheme | None  # None: argon2id
    against: str
    real: bool


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
        self._legacy_dummies = LegacyDummies.make()

    async def hash(self, password: str) -> str:
        """Return an argon2id hash of the password."""
        return await self._in_pool(_HASHER.hash, password)

    async def verify(
        self, stored_hash: str | None, password: str, bcrypt_ceiling: int | None = None
    ) -> bool:
        """True if the password matches; with no stored hash, spend the same time and fail.

        `bcrypt_ceiling` is the highest cost among imported bcrypt hashes not yet replaced
        (None when there are none): every check then costs one bcrypt check of that cost.
        """
        checks = self.plan(stored_hash, bcrypt_ceiling)
        return await self._in_pool(_run_checks, checks, password)

    def plan(self, stored_hash: str | None, bcrypt_ceiling: int | None = None) -> tuple[Check, ...]:
        """The checks one sign-in makes: the same work for every account, known or not.

        One argon2id, one apr1 and one SHA-1 check, each against the stored hash when it is
        of that scheme and against a dummy otherwise; and, while imported bcrypt hashes
        wait for their first sign-in, bcrypt work worth one check at `bcrypt_ceiling`.
        """
        stored = stored_hash or ""
        scheme = legacy_scheme(stored)
        dummies = self._legacy_dummies
        native = bool(stored) and scheme is None
        checks = [
            Check(None, stored, True) if native else Check(None, self._dummy_hash, False),
            _own_or_dummy(LegacyScheme.APR1, scheme, stored, dummies.apr1),
            _own_or_dummy(LegacyScheme.SHA1, scheme, stored, dummies.sha1),
        ]
        ceiling = _clamped_cost(bcrypt_ceiling)
        own_cost = bcrypt_cost(stored) if scheme is LegacyScheme.BCRYPT else None
        if own_cost is not None:
            checks.append(Check(LegacyScheme.BCRYPT, stored, True))
            # bcrypt's work doubles with each cost step: 2^c + (2^c + ... + 2^(C-1)) = 2^C,
            # so this account costs what one check at the ceiling costs.
            padding = range(own_cost, ceiling or own_cost)
            checks += [Check(LegacyScheme.BCRYPT, dummies.bcrypt(c), False) for c in padding]
        elif ceiling is not None:
            checks.append(Check(LegacyScheme.BCRYPT, dummies.bcrypt(ceiling), False))
        return tuple(checks)

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when the hash is an imported one, or argon2 with older parameters."""
        if legacy_scheme(stored_hash) is not None:
            return True
        try:
            return _HASHER.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    def close(self) -> None:
        """Stop the worker threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _in_pool(self, work: Callable[..., T], *args: object) -> T:
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


def _clamped_cost(cost: int | None) -> int | None:
    # The ceiling is read from Redis: a damaged value must not make every sign-in take hours.
    return None if cost is None else min(max(cost, MIN_BCRYPT_COST), MAX_BCRYPT_COST)


def _own_or_dummy(
    wanted: LegacyScheme, scheme: LegacyScheme | None, stored: str, dummy: str
) -> Check:
    return Check(wanted, stored, True) if scheme is wanted else Check(wanted, dummy, False)


def _run_checks(checks: Sequence[Check], password: str) -> bool:
    matched = False
    for check in checks:
        if check.scheme is None:
            ok = _verify(check.against, password)
        else:
            ok = verify_legacy(check.scheme, check.against, password)
        if check.real:
            matched = ok
    return matched


def _verify(stored_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
