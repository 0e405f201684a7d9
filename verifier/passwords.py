"""Password hashing with argon2id, off the event loop and bounded in concurrency."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP Password Storage Cheat Sheet, argon2id, first option: m=19 MiB, t=2, p=1.
# p=1 keeps one hash on one core, so a login flood cannot take both cores from /auth.
_HASHER = argon2.PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
# Longer passwords are refused before hashing: argon2 would accept them, but hashing
# megabytes per attempt is a cheap denial of service.
MAX_PASSWORD_LENGTH = 1024


class PasswordHasher:
    """Hashes and verifies passwords in a small thread pool.

    argon2-cffi releases the GIL while hashing, so the event loop keeps serving /auth;
    the pool size caps how many hashes (19 MiB each) run at once, and excess logins queue.
    """

    def __init__(self, max_parallel: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="argon2")
        # Unknown users are checked against this, so they cost the same time as known ones.
        self._dummy_hash = _HASHER.hash("verifier-dummy-password")

    async def hash(self, password: str) -> str:
        """Return an argon2id hash of the password."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, _HASHER.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """True if the password matches; with no stored hash, spend the same time and fail."""
        candidate = stored_hash if stored_hash is not None else self._dummy_hash
        matched = await asyncio.get_running_loop().run_in_executor(
            self._pool, _verify, candidate, password
        )
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


def _verify(stored_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
