"""Brute-force throttling of logins, per account and per client address, in Redis."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from verifier.errors import LoginThrottled
from verifier.store import RedisClient
from verifier.store.keyspace import KeySpace
from verifier.store.outages import guard_for

# Every Redis call of this module, timed under its name (verifier_redis_call_*).
_guard = guard_for("throttle")

# Take one attempt from a counter's allowance, or refuse. Counting *before* the password is
# checked, in one atomic step, is what makes the limit hold against a burst of parallel
# guesses: a separate "read, check, then count the failure" lets all of them through.
# The window starts at the first attempt and later attempts do not stretch it; INCR and
# EXPIRE share the script so a counter can never be left without its TTL (a lockout forever).
# A refused attempt is not counted, so the counter stays at the limit and the window ends on
# time. (EXPIRE NX would need Redis 7; the bundled fallback server is 6.2.)
# The wait is the window's remaining milliseconds rounded *up* to whole seconds: a client
# that waits Retry-After seconds finds the window closed. (TTL rounds to the nearest second:
# it told clients to come back up to half a second early, and in the window's last half
# second it read 0, answered as a whole new window.) A counter without a TTL cannot happen;
# if one did, it would count as a full window.
# KEYS[1] counter; ARGV[1] limit, ARGV[2] window (s). Returns 0 when allowed, else the
# whole seconds until the window ends (at least 1).
_RESERVE_ATTEMPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
if count <= tonumber(ARGV[1]) then
  return 0
end
redis.call('DECR', KEYS[1])
local left_ms = redis.call('PTTL', KEYS[1])
if left_ms < 1 then
  return tonumber(ARGV[2])
end
return math.ceil(left_ms / 1000)
"""

# Give an attempt back (it succeeded, or another counter refused it). Only an existing
# counter is decremented: DECR on a missing key would create one without a TTL.
_RELEASE_ATTEMPT = """
local count = tonumber(redis.call('GET', KEYS[1]))
if count and count > 0 then
  redis.call('DECR', KEYS[1])
end
return 0
"""

# Key spaces: wrong passwords, and wrong second-factor codes (counted apart, so a correct
# password, which clears its own counter, never clears the count of wrong codes).
PASSWORD_SPACE = ""
SECOND_FACTOR_SPACE = "second-factor-"
# Failed `Authorization: Bearer vrf_...` attempts (verifier.apitokens), per address only.
BEARER_SPACE = "bearer-"

# How long a client must wait before its next attempt is even looked at: 0 while the counter
# is below the limit, else the window's remaining milliseconds rounded up to whole seconds
# (as _RESERVE_ATTEMPT answers). Read-only: checking costs no write.
# KEYS[1] counter; ARGV[1] limit, ARGV[2] window (s).
_WAIT_SECONDS = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count < tonumber(ARGV[1]) then
  return 0
end
local left_ms = redis.call('PTTL', KEYS[1])
if left_ms < 1 then
  return tonumber(ARGV[2])
end
return math.ceil(left_ms / 1000)
"""

# Count one failed attempt; the window starts at the first and later ones do not stretch it.
# KEYS[1] counter; ARGV[1] window (s). Returns the count.
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
    """Bounds password checks per account and per client address in fixed windows.

    Every attempt reserves one unit of both allowances before its password is checked; a
    failure keeps them, a success gives them back (and clears the account's counter). The
    account limit stops guessing one user's password from many addresses; the address limit
    stops one client spraying many accounts. A window is short (a minute by default), so an
    attacker who trips an account's limit on purpose locks its owner out only that long.
    Unknown user names are counted like real ones, so throttling reveals nothing.

    Each script touches one key, so the counters may live in different Redis Cluster slots.
    """

    def __init__(
        self,
        client: RedisClient,
        keys: KeySpace,
        policy: ThrottlePolicy,
        space: str = PASSWORD_SPACE,
    ) -> None:
        self._redis = client
        self._keys = keys
        self._policy = policy
        self._space = space
        self._reserve = client.register_script(_RESERVE_ATTEMPT)
        self._release = client.register_script(_RELEASE_ATTEMPT)

    async def reserve(self, user_name: str, address: str) -> None:
        """Count one attempt against the account and the address, or raise LoginThrottled."""
        taken: list[str] = []
        for counter, key, limit in self._counters(user_name, address):
            wait = int(
                await _guard(self._reserve(keys=[key], args=[limit, self._policy.window_seconds]))
            )
            if wait:
                for reserved in taken:
                    await _guard(self._release(keys=[reserved]))
                raise LoginThrottled(wait, counter)
            taken.append(key)

    async def record_success(self, user_name: str, address: str) -> None:
        """A correct password clears the account's counter and returns the address's unit."""
        await _guard(self._redis.delete(self._account_key(user_name)))
        await _guard(self._release(keys=[self._address_key(address)]))

    async def release(self, user_name: str, address: str) -> None:
        """Give back a reserved attempt whose password was never checked."""
        for _, key, _ in self._counters(user_name, address):
            await _guard(self._release(keys=[key]))

    def _counters(self, user_name: str, address: str) -> list[tuple[str, str, int]]:
        # (name for the audit record, Redis key, limit)
        return [
            ("account", self._account_key(user_name), self._policy.max_failures_per_account),
            ("address", self._address_key(address), self._policy.max_failures_per_address),
        ]

    def _account_key(self, user_name: str) -> str:
        return account_counter_key(self._keys, user_name, self._space)

    def _address_key(self, address: str) -> str:
        return self._keys.login_throttle(self._space + "address", _digest(address))


class AddressFailures:
    """Bounds failed attempts per client address in fixed windows, counted after the fact.

    For checks that must cost nothing when they succeed (a bearer token on every request of
    a script): unlike LoginThrottle, nothing is reserved before the check. A caller asks
    `wait_seconds` first (a read) and refuses unchecked while the address is at its limit,
    and counts each failure afterwards (a write). Failures of one burst, checked at the same
    moment, can pass the limit by as many as are in flight; that is harmless where a guess
    cannot succeed (a 256-bit token), and the limit is there to stop the flood, not the
    guess.
    """

    def __init__(
        self,
        client: RedisClient,
        keys: KeySpace,
        max_failures: int,
        window_seconds: int,
        space: str = BEARER_SPACE,
    ) -> None:
        self._keys = keys
        self._max_failures = max_failures
        self._window_seconds = window_seconds
        self._space = space
        self._wait = client.register_script(_WAIT_SECONDS)
        self._count = client.register_script(_COUNT_FAILURE)

    async def wait_seconds(self, address: str) -> int:
        """0 if the address may try now, else the whole seconds until its window ends."""
        return int(
            await _guard(
                self._wait(
                    keys=[self.key(address)], args=[self._max_failures, self._window_seconds]
                )
            )
        )

    async def count_failure(self, address: str) -> None:
        """Count one failed attempt of the address."""
        await _guard(self._count(keys=[self.key(address)], args=[self._window_seconds]))

    def key(self, address: str) -> str:
        """The Redis key counting the address's failures."""
        return address_counter_key(self._keys, address, self._space)


def address_counter_key(keys: KeySpace, address: str, space: str = BEARER_SPACE) -> str:
    """The Redis key counting failures (of `space`: bearer tokens by default) of an address."""
    return keys.login_throttle(space + "address", _digest(address))


def account_counter_key(keys: KeySpace, user_name: str, space: str = PASSWORD_SPACE) -> str:
    """The Redis key counting failed logins (or second-factor codes) for one user name."""
    # Folded like real names, so "Alice" and "alice" share one counter.
    return keys.login_throttle(space + "account", _digest(user_name.strip().lower()))


def _digest(text: str) -> str:
    # Any input (a 200-character name, an IPv6 address) makes a short key of safe characters.
    return hashlib.sha256(text.encode()).hexdigest()[:32]
