"""Brute-force throttling of logins, per account and per client address, in Redis."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import redis.asyncio as aioredis

from verifier.errors import LoginThrottled
from verifier.keys import KeySpace
from verifier.redis_store import guard

# The window starts at the first failure and later failures do not stretch it; INCR and
# EXPIRE in one script so a counter can never be left without its TTL (a lockout forever).
# (EXPIRE's NX flag would do the same, but needs Redis 7; the bundled fallback server is 6.2.)
_COUNT_FAILURE = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return count
"""


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failed logins a fixed window allows, per account and per client address."""

    max_failures_per_account: int
    max_failures_per_address: int
    window_seconds: int


class LoginThrottle:
    """Counts failed logins in fixed windows and refuses attempts past the limits.

    The account limit stops guessing one user's password from many addresses; the address
    limit stops one client spraying many accounts. A window is short (a minute by default),
    so an attacker who trips an account's limit on purpose locks its owner out only that
    long. Unknown user names are counted like real ones, so throttling reveals nothing.
    """

    def __init__(self, client: aioredis.Redis, keys: KeySpace, policy: ThrottlePolicy) -> None:
        self._redis = client
        self._keys = keys
        self._policy = policy
        self._count_failure = client.register_script(_COUNT_FAILURE)

    async def check(self, user_name: str, address: str) -> None:
        """Raise LoginThrottled if either counter is at its limit."""
        for key, limit in self._counters(user_name, address):
            count = await guard(self._redis.get(key))
            if count is not None and int(count) >= limit:
                ttl = await guard(self._redis.ttl(key))
                raise LoginThrottled(max(1, ttl if ttl > 0 else self._policy.window_seconds))

    async def record_failure(self, user_name: str, address: str) -> None:
        """Count one failed attempt against the account and the address."""
        for key, _ in self._counters(user_name, address):
            await guard(self._count_failure(keys=[key], args=[self._policy.window_seconds]))

    async def record_success(self, user_name: str) -> None:
        """A correct password clears the account's counter (not the address's)."""
        await guard(self._redis.delete(self._account_key(user_name)))

    def _counters(self, user_name: str, address: str) -> list[tuple[str, int]]:
        return [
            (self._account_key(user_name), self._policy.max_failures_per_account),
            (
                self._keys.login_throttle("address", _digest(address)),
                self._policy.max_failures_per_address,
            ),
        ]

    def _account_key(self, user_name: str) -> str:
        # Folded like real names, so "Alice" and "alice" share one counter.
        return self._keys.login_throttle("account", _digest(user_name.strip().lower()))


def _digest(text: str) -> str:
    # Any input (a 200-character name, an IPv6 address) makes a short key of safe characters.
    return hashlib.sha256(text.encode()).hexdigest()[:32]
