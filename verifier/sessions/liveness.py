"""A per-worker cache of live sessions, kept correct by revocation messages from Redis.

Every `/auth` must know that its session is still live, and asking Redis costs a round trip
per request. This cache remembers sessions Redis confirmed live, and forgets them the moment
a revocation is published (logout, logout everywhere, replay, password change...). It is
trusted only while its subscription is up: when the channel drops, it is emptied and every
check goes to Redis again, until the subscription is confirmed anew.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import redis.exceptions

from verifier.observe.metrics import NO_METRICS, Metrics
from verifier.store import Subscriptions
from verifier.store.heartbeat import Heartbeat, is_heartbeat
from verifier.store.keyspace import (
    SESSION_ENDED,
    TOKEN_REVOKED,
    USER_CHANGED,
    USER_SESSIONS_ENDED,
)
from verifier.store.outages import REDIS_OUTAGE_ERRORS, as_text

__all__ = [
    "SESSION_ENDED",
    "TOKEN_REVOKED",
    "USER_CHANGED",
    "USER_SESSIONS_ENDED",
    "LivenessCache",
    "token_entry",
]

log = logging.getLogger(__name__)

Clock = Callable[[], float]

# A channel that has answered nothing (not even a PONG) for this long is treated as down.
SILENCE_LIMIT_SECONDS = 3.0
# How long one wait for a message lasts: the pace of PINGs on an idle channel, and the most
# a stop() waits to be noticed.
POLL_SECONDS = 1.0


def token_entry(token_id: str) -> str:
    """The cache's name for an API token of a user, beside that user's session ids.

    A session id is 22 base64url characters, which never hold a ':', so the two never meet.
    """
    return "k:" + token_id


class LivenessCache:
    """Sessions (and API tokens, verifier.apitokens) known to be live, with the groups they
    carry, each for at most `max_age_seconds` (a safety net for removals that publish
    nothing, such as a Redis restart without persistence).

    Every entry belongs to a user: whatever ends or changes that user (`u`, `g`) forgets all
    of the user's entries, sessions and tokens alike.
    """

    def __init__(
        self,
        clock: Clock,
        max_age_seconds: float,
        max_entries: int = 100_000,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._clock = clock
        self._metrics = metrics
        self._max_age = max_age_seconds
        self._max_entries = max_entries
        # user -> session id -> (deadline, the user's groups as Redis last said)
        self._entries: dict[str, dict[str, tuple[float, tuple[str, ...]]]] = {}
        self._size = 0
        self._trusted = False
        # Bumped by every invalidation: a Redis answer obtained before a revocation arrived
        # must not be cached after it (the check raced the logout).
        self.epoch = 0

    @property
    def trusted(self) -> bool:
        """True while the revocation channel is confirmed up."""
        return self._trusted

    def known_groups(self, user: str, session_id: str) -> tuple[str, ...] | None:
        """The user's groups if Redis said live recently and nothing changed since, else None."""
        groups = self._lookup(user, session_id)
        self._metrics.liveness_lookup(groups is not None)
        return groups

    def cached_groups(self, user: str, session_id: str) -> tuple[str, ...] | None:
        """As known_groups, counting a hit only: on a miss the caller asks again by the
        route that asks Redis, which counts that miss (once)."""
        groups = self._lookup(user, session_id)
        if groups is not None:
            self._metrics.liveness_lookup(True)
        return groups

    def _lookup(self, user: str, session_id: str) -> tuple[str, ...] | None:
        if not self._trusted:
            return None
        entry = self._entries.get(user, {}).get(session_id)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]

    def is_known_live(self, user: str, session_id: str) -> bool:
        """True if Redis said live recently and no revocation has arrived since."""
        return self.known_groups(user, session_id) is not None

    def remember(
        self,
        user: str,
        session_id: str,
        epoch: int,
        groups: tuple[str, ...] = (),
        not_after: float | None = None,
    ) -> None:
        """Record that Redis answered "live" (and these groups) for a check begun at `epoch`.

        `not_after`: the entry's own end (a token's expiry), when it comes before the cache's.
        """
        if not self._trusted or epoch != self.epoch or self._max_age <= 0:
            return
        if self._size >= self._max_entries:
            self._forget_all()  # crude but safe: the cache refills from Redis
        sessions = self._entries.setdefault(user, {})
        if session_id not in sessions:
            self._size += 1
        deadline = self._clock() + self._max_age
        if not_after is not None and not_after < deadline:
            deadline = not_after
        sessions[session_id] = (deadline, groups)

    def apply(self, message: str) -> None:
        """Forget what a revocation message names."""
        self.epoch += 1
        kind, _, rest = message.partition(" ")
        if kind in (SESSION_ENDED, TOKEN_REVOKED):
            user, _, ended = rest.partition(" ")
            entry = ended if kind == SESSION_ENDED else token_entry(ended)
            sessions = self._entries.get(user)
            if sessions is not None and sessions.pop(entry, None) is not None:
                self._size -= 1
        elif kind in (USER_SESSIONS_ENDED, USER_CHANGED):
            self._size -= len(self._entries.pop(rest, {}))
        else:
            self._forget_all()  # a message we do not understand: trust nothing cached

    def trust(self) -> None:
        """The channel is confirmed up: start caching, from empty."""
        self._forget_all()
        self._trusted = True
        self._metrics.revocation_channel(up=True)

    def distrust(self) -> None:
        """The channel is down: forget everything and stop caching."""
        self._trusted = False
        self._forget_all()
        self._metrics.revocation_channel(up=False)

    def _forget_all(self) -> None:
        self.epoch += 1
        self._entries.clear()
        self._size = 0


class RevocationListener:
    """Subscribes to the revocation channel and feeds the cache, reconnecting forever."""

    def __init__(
        self, subscriptions: Subscriptions, channel: str, cache: LivenessCache, clock: Clock
    ) -> None:
        # Where to subscribe (verifier.store): each attempt asks for a new pub/sub, which on
        # a Cluster lands on another node than the one that just failed.
        self._subscriptions = subscriptions
        self._channel = channel
        self._cache = cache
        self._clock = clock
        self._heartbeat = Heartbeat(clock)
        self._stopping = False
        # Whether the cache was trusted when the last subscription ended (for the warning).
        self._was_trusted = False

    def stop(self) -> None:
        """Ask run() to return; it does within about a second (one poll of the channel)."""
        # Cancelling the task alone is not enough: redis-py (8.1, Python 3.11) can swallow a
        # cancellation that lands while the pub/sub connection is being set up, and the
        # listener would then run on, holding up the worker's shutdown for good.
        self._stopping = True

    async def run(self) -> None:
        """Listen until stopped; while disconnected, the cache is not trusted."""
        delay = 0.1
        while not self._stopping:
            try:
                await self._listen()
            except REDIS_OUTAGE_ERRORS as error:
                # _listen already distrusted the cache on its way out: ask what it held.
                if self._was_trusted:
                    log.warning("revocation channel lost (%s): checking Redis directly", error)
                self._cache.distrust()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            else:
                return

    async def _listen(self) -> None:
        pubsub = self._subscriptions.pubsub()
        heartbeat = self._heartbeat
        subscribed = False
        try:
            await pubsub.subscribe(self._channel)
            last_heard = self._clock()
            while not self._stopping:
                if subscribed:
                    await self._beat(heartbeat)
                wait = (
                    min(POLL_SECONDS, heartbeat.seconds_to_next()) if subscribed else POLL_SECONDS
                )
                message = await pubsub.get_message(timeout=wait)
                if message is None:
                    # Idle: a PING must be answered, or the peer is gone (a dead peer
                    # without RST would otherwise leave us trusting a silent channel).
                    if self._clock() - last_heard > SILENCE_LIMIT_SECONDS:
                        raise redis.exceptions.ConnectionError("revocation channel silent")
                    if not subscribed or heartbeat.seconds_to_next() > 0:
                        await pubsub.ping()
                    continue
                last_heard = self._clock()
                if message["type"] == "subscribe":
                    # Every later revocation can reach us now; the cache is trusted once
                    # our own heartbeat proves that what is published does. redis-py also
                    # lands here when it reconnected and subscribed again by itself (a
                    # Redis restart): whatever was cached before may be stale, so forget it.
                    subscribed = True
                    self._cache.distrust()
                    heartbeat.restart()
                elif message["type"] == "message":
                    self._hear(heartbeat, as_text(message["data"]))
        finally:
            self._was_trusted = self._cache.trusted
            self._cache.distrust()
            await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]

    async def _beat(self, heartbeat: Heartbeat) -> None:
        if heartbeat.overdue():
            # Connected, maybe answering PING, but not hearing what is published.
            raise redis.exceptions.ConnectionError("revocation channel: own heartbeat not heard")
        beat = heartbeat.due()
        if beat is not None:
            await self._subscriptions.publish(self._channel, beat)

    def _hear(self, heartbeat: Heartbeat, data: str) -> None:
        if not is_heartbeat(data):
            self._cache.apply(data)
        elif heartbeat.hear(data) and not self._cache.trusted:
            self._cache.trust()
            log.info("revocation channel up: caching session checks")
