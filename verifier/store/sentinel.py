"""Sentinel's master as a majority of the sentinels name it, and a pool that uses no other.

redis-py's Sentinel pool asks for the master only when it opens a connection, believes the
first sentinel that answers, and on a change closes only its idle connections. So a
connection to the old master survives a failover when it was busy at that moment, or when
the pool opened no new connection since; and a sentinel that has not yet heard of the
failover still names the old master. When that old master wakes up (after SIGSTOP, or a
partition heals) it calls itself master until the sentinels demote it, and what it answers
is stale: a session revoked on the new master is live there. The fault runs measured it:
16 to 192 checks let such a session in.

The pool here:
- takes the master named at the highest configuration epoch (each failover raises it) by
  the sentinels that answer, and only when they are a majority of those configured;
- confirms it again whenever CONFIRM_SECONDS have passed and a connection is asked for
  (the revocation listener's heartbeat asks once a second), and when it changes, closes
  every connection of the pool, the busy ones too;
- hands out a connection only when it is connected to the confirmed master;
- after STALE_SECONDS without a majority confirming, hands out none (an outage: 503).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.sentinel import MasterNotFoundError, SentinelConnectionPool

log = logging.getLogger(__name__)

Address = tuple[str, int]
Clock = Callable[[], float]

# How old the confirmed master may be when a connection is handed out.
CONFIRM_SECONDS = 1.0
# Without a majority confirming for this long, the master may have changed unseen.
STALE_SECONDS = 3.0
# Connections opened together share one confirmation younger than this.
SHARED_CONFIRMATION_SECONDS = 0.1
# Once a majority answered, how long the others may still add a newer epoch.
LATE_ANSWER_SECONDS = 0.05


@dataclass(frozen=True)
class MasterView:
    """What one sentinel says of the master: where it is, at which epoch, whether it is up."""

    address: Address
    epoch: int
    usable: bool


def majority(configured: int) -> int:
    """How many sentinels make a majority of `configured`."""
    return configured // 2 + 1


def choose_master(views: Iterable[MasterView | None], configured: int) -> Address:
    """The master named at the newest epoch, if a majority of sentinels answered.

    `None` stands for a sentinel that did not answer (or does not know the master). Raises
    MasterNotFoundError when too few answered, or when those at the newest epoch all see
    the master down.
    """
    answered = [view for view in views if view is not None]
    if len(answered) < majority(configured):
        raise MasterNotFoundError(
            f"{len(answered)} of {configured} sentinels answered; a majority must name the master"
        )
    newest = max(view.epoch for view in answered)
    usable = [view.address for view in answered if view.epoch == newest and view.usable]
    if not usable:
        raise MasterNotFoundError("the sentinels see the master down")
    # One epoch names one configuration; should two answers differ, the commoner wins.
    return Counter(usable).most_common(1)[0][0]


def view_of(state: dict[str, Any]) -> MasterView:
    """A sentinel's parsed `SENTINEL MASTER` reply as a MasterView."""
    usable = bool(state["is_master"]) and not state["is_sdown"] and not state["is_odown"]
    # A master that never failed over may be reported without an epoch: epoch 0.
    epoch = int(state.get("config-epoch", 0))
    return MasterView((str(state["ip"]), int(state["port"])), epoch, usable)


class SentinelQuorum:
    """Asks every sentinel at once which master they name, and chooses by majority."""

    def __init__(self, sentinels: Sequence[aioredis.Redis], service_name: str) -> None:
        self._sentinels = list(sentinels)
        self._service_name = service_name
        # Answers still on their way when a majority had answered: kept so they finish.
        self._late: set[asyncio.Task[MasterView | None]] = set()

    async def master(self) -> Address:
        """The master a majority of the sentinels name now; raises MasterNotFoundError."""
        pending = {asyncio.ensure_future(self._ask(sentinel)) for sentinel in self._sentinels}
        needed = majority(len(self._sentinels))
        views: list[MasterView | None] = []
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                views.extend(task.result() for task in done)
                answered = sum(view is not None for view in views)
                if answered >= needed or answered + len(pending) < needed:
                    break
            if pending and sum(view is not None for view in views) >= needed:
                # The sentinel that led a failover may be a moment behind the others.
                done, pending = await asyncio.wait(pending, timeout=LATE_ANSWER_SECONDS)
                views.extend(task.result() for task in done)
        finally:
            # Left to finish (each within the sentinel timeout), also when the caller was
            # cancelled: cancelling a command midway would leave its connection unusable.
            for task in pending:
                self._late.add(task)
                task.add_done_callback(self._late.discard)
        return choose_master(views, len(self._sentinels))

    async def _ask(self, sentinel: aioredis.Redis) -> MasterView | None:
        try:
            state = await sentinel.sentinel_master(self._service_name)
        except (redis.exceptions.RedisError, OSError):
            return None  # down, slow, or does not monitor this master: no answer
        try:
            return view_of(state) if isinstance(state, dict) else None
        except (KeyError, TypeError, ValueError):
            return None  # a reply we cannot read is no answer either


class FencedSentinelPool(SentinelConnectionPool):
    """A Sentinel pool whose every connection goes to the master a majority confirmed."""

    def __init__(self, service_name: str, sentinel_manager: Any, **kwargs: Any) -> None:
        self._clock: Clock = kwargs.pop("clock", time.monotonic)
        # When a majority last confirmed the master, and when they were last asked.
        self._confirmed_at: float | None = None
        self._asked_at: float | None = None
        self._warned_unconfirmed = False
        super().__init__(service_name, sentinel_manager, **kwargs)  # type: ignore[no-untyped-call, unused-ignore]
        self._quorum = SentinelQuorum(sentinel_manager.sentinels, service_name)
        self._confirming = asyncio.Lock()

    def reset(self) -> None:
        """Forget the confirmed master along with the connections."""
        super().reset()  # type: ignore[no-untyped-call, unused-ignore]
        self._confirmed_at = None
        self._asked_at = None
        self._warned_unconfirmed = False

    async def get_master_address(self) -> Address:
        """The confirmed master's address (asked for by every connection that opens)."""
        return await self._confirm(max_age=SHARED_CONFIRMATION_SECONDS)

    async def get_connection(self, *args: Any, **options: Any) -> AbstractConnection:
        """A connection to the confirmed master, confirming it first when it is due."""
        await self._confirm(max_age=CONFIRM_SECONDS)
        acquire = super().get_connection
        connection: AbstractConnection = await acquire(*args, **options)  # type: ignore[no-untyped-call, unused-ignore]
        if _address_of(connection) != self.master_address:
            # Opened to a master the sentinels no longer name: open it again.
            try:
                await connection.disconnect()
                await self.ensure_connection(connection)
            except BaseException:
                await self.release(connection)
                raise
        return connection

    async def _confirm(self, max_age: float) -> Address:
        if self._asked_within(max_age):
            return self._last_confirmed()
        if self._confirming.locked() and self._confirmed_within(STALE_SECONDS):
            # Being asked now (a millisecond, or up to a timeout when sentinels hang): the
            # master confirmed last serves meanwhile, if recent, instead of a queue forming.
            return self._last_confirmed()
        async with self._confirming:
            # Another task may have asked while this one waited: one question serves all,
            # and a majority that failed to answer is not asked again by every request.
            if self._asked_within(max_age):
                return self._last_confirmed()
            self._asked_at = self._clock()
            try:
                address = await self._quorum.master()
            except MasterNotFoundError as error:
                if not self._warned_unconfirmed:
                    self._warned_unconfirmed = True
                    log.warning("%s: using the master confirmed last while it is recent", error)
                return self._last_confirmed()
            self._confirmed_at = self._clock()
            self._warned_unconfirmed = False
            if address != self.master_address:
                await self._switch_to(address)
            return address

    def _asked_within(self, max_age: float) -> bool:
        asked_at = self._asked_at
        return asked_at is not None and self._clock() - asked_at <= max_age

    def _confirmed_within(self, max_age: float) -> bool:
        confirmed_at = self._confirmed_at
        return confirmed_at is not None and self._clock() - confirmed_at <= max_age

    def _last_confirmed(self) -> Address:
        """The master confirmed last, unless that was too long ago to rely on."""
        address: Address | None = self.master_address
        if address is None or not self._confirmed_within(STALE_SECONDS):
            raise MasterNotFoundError(
                f"no majority of sentinels has confirmed the master {self.service_name!r} "
                f"within {STALE_SECONDS:g} s"
            )
        return address

    async def _switch_to(self, address: Address) -> None:
        old: Address | None = self.master_address
        self.master_address = address
        if old is None:
            return
        log.warning(
            "the sentinels name a new master for %r at %s:%d: closing every connection to %s:%d",
            self.service_name,
            *address,
            *old,
        )
        # Busy ones too: what the old master answers now may be stale.
        await self.disconnect(inuse_connections=True)


def _address_of(connection: AbstractConnection) -> Address | None:
    # A Sentinel-managed connection has a host and port (AbstractConnection does not say so).
    host, port = getattr(connection, "host", None), getattr(connection, "port", None)
    return (host, port) if isinstance(host, str) and isinstance(port, int) else None
