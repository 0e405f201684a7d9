"""Write scripts under client retries, replica confirmation and a flushed script cache.

Against the real redis-server of the e2e fixtures: a TCP proxy between the client and the
server loses one reply (the command ran, its answer never arrives), and redis-py's retry
after the timeout re-sends the same script call; the standalone server has no replica, so
a store that asks for one sees every write unconfirmed.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest
import redis
import redis.asyncio as aioredis
from e2e_helpers import SETTLE_SECONDS
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

import verifier
from verifier.demo import processes
from verifier.errors import RefreshRejected, StoreUnavailable
from verifier.sessions.store import (
    REPLICAS_BEHIND,
    RefreshToken,
    RotationOutcome,
    SessionPolicy,
    SessionStore,
)
from verifier.store import RedisTarget, connect
from verifier.store.keyspace import KeySpace
from verifier.store.replication import ReplicaAck

if TYPE_CHECKING:
    from conftest import RedisServer

T = TypeVar("T")
POLICY = SessionPolicy(
    idle_seconds=600, absolute_seconds=3600, grace_seconds=30, max_sessions_per_user=50
)
# The standalone server has no replica: a store asking for one sees every write unconfirmed.
ONE_REPLICA = ReplicaAck(min_replicas=1, wait_ms=20)
ROTATE_SCRIPT = Path(verifier.__file__).parent / "sessions" / "lua" / "rotate_refresh.lua"


class Clock:
    """The wall clock, which the test can move forward by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class ReplyLosingProxy:
    """A loopback TCP proxy to Redis that, once armed, swallows one connection's replies.

    The command on that connection still reaches Redis and runs; the client hears nothing
    until its socket timeout, drops the connection and (if it retries) sends it again on a
    new one, which the proxy serves normally.
    """

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._server: asyncio.Server | None = None
        self._armed = False
        self.commands_sent: list[bytes] = []

    @property
    def url(self) -> str:
        """The redis:// URL that goes through the proxy."""
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}/0"

    def lose_next_reply(self) -> None:
        """Make the next connection that sends a command hear no reply, ever."""
        self._armed = True

    async def start(self) -> None:
        """Listen on a free loopback port."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        deaf = asyncio.Event()

        async def to_redis() -> None:
            while data := await reader.read(65536):
                self.commands_sent.append(data)
                if self._armed:
                    self._armed = False
                    deaf.set()
                up_writer.write(data)
                await up_writer.drain()

        async def to_client() -> None:
            while data := await up_reader.read(65536):
                if not deaf.is_set():
                    writer.write(data)
                    await writer.drain()

        with contextlib.suppress(ConnectionError):
            await asyncio.wait(
                [asyncio.create_task(to_redis()), asyncio.create_task(to_client())],
                return_when=asyncio.FIRST_COMPLETED,
            )
        for stream in (writer, up_writer):
            stream.close()

    def evalsha_count(self) -> int:
        """How many script calls went through the proxy."""
        return sum(chunk.count(b"EVALSHA") for chunk in self.commands_sent)


@contextlib.asynccontextmanager
async def _proxy(redis_server: RedisServer) -> AsyncIterator[ReplyLosingProxy]:
    host, port = redis_server.url.removeprefix("redis://").split("/")[0].split(":")
    proxy = ReplyLosingProxy(host, int(port))
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


def _run(
    redis_server: RedisServer, scenario: Callable[[aioredis.Redis, KeySpace], Awaitable[T]]
) -> T:
    async def main() -> T:
        client = aioredis.Redis.from_url(redis_server.url)
        try:
            return await scenario(client, KeySpace(f"retry-{secrets.token_hex(4)}"))
        finally:
            await client.aclose()

    return asyncio.run(main())


async def _session_fields(
    client: aioredis.Redis, keys: KeySpace, token: RefreshToken
) -> dict[bytes, bytes]:
    fields: dict[bytes, bytes] = await client.hgetall(keys.session(token.user, token.session_id))
    return fields


# --- a retried rotation ---------------------------------------------------------------------------


def test_a_rotation_whose_reply_was_lost_is_answered_rotated_on_the_retry(
    redis_server: RedisServer,
) -> None:
    async def scenario(client: aioredis.Redis, keys: KeySpace) -> None:
        async with _proxy(redis_server) as proxy:
            # The verifier's own client (its timeouts and its one retry), through the proxy.
            through_proxy = connect(RedisTarget(url=proxy.url))
            try:
                store = SessionStore(through_proxy, keys, POLICY, time.time)
                session = await store.create("alice")
                # A first rotation loads the script, so the lost reply is the rotation's own.
                first = await store.refresh(str(session.refresh_token))
                assert first.new_refresh_token is not None
                calls_before = proxy.evalsha_count()
                proxy.lose_next_reply()
                retried = await store.refresh(str(first.new_refresh_token))
                # The script ran twice (the reply of the first run was lost) ...
                assert proxy.evalsha_count() - calls_before == 2
            finally:
                await through_proxy.aclose()
        # ... and the retry was answered as the rotation it repeats, with the token kept.
        assert retried.outcome is RotationOutcome.ROTATED
        assert retried.new_refresh_token is not None
        stored = await _session_fields(client, keys, retried.new_refresh_token)
        assert stored[b"current"].decode() == retried.new_refresh_token.secret_hash
        assert stored[b"previous"].decode() == first.new_refresh_token.secret_hash
        # The token the retry handed out works: it rotates like any current token.
        direct = SessionStore(client, keys, POLICY, time.time)
        again = await direct.refresh(str(retried.new_refresh_token))
        assert again.outcome is RotationOutcome.ROTATED

    _run(redis_server, scenario)


def test_the_same_rotation_sent_twice_rotates_once(redis_server: RedisServer) -> None:
    async def scenario(client: aioredis.Redis, keys: KeySpace) -> None:
        store = SessionStore(client, keys, POLICY, time.time)
        session = await store.create("bob")
        presented = session.refresh_token
        replacement = RefreshToken.mint(presented.user, presented.session_id)
        rotate = client.register_script(ROTATE_SCRIPT.read_text(encoding="utf-8"))
        session_keys = [
            keys.session("bob", presented.session_id),
            keys.retired("bob", presented.session_id),
            keys.session_index("bob"),
            keys.user("bob"),
        ]
        args = [
            presented.secret_hash,
            replacement.secret_hash,
            int(time.time() * 1000),
            30_000,
            600,
            presented.session_id,
            keys.revocations(),
            "bob",
            -1 if presented.generation is None else presented.generation,
            "0",  # no replicas awaited
            "",  # no host binding (single sign-on off)
            keys.session_prefix("bob"),
            keys.retired_prefix("bob"),
            keys.family_prefix("bob"),
        ]
        first = await rotate(keys=session_keys, args=args)
        after_first = await _session_fields(client, keys, presented)
        second = await rotate(keys=session_keys, args=args)
        after_second = await _session_fields(client, keys, presented)
        assert (first[0], second[0]) == (b"rotated", b"rotated")
        assert after_second == after_first
        assert after_first[b"current"].decode() == replacement.secret_hash
        assert await client.scard(keys.retired("bob", presented.session_id)) == 0

    _run(redis_server, scenario)


def test_the_previous_token_with_another_replacement_is_grace_not_a_rotation(
    redis_server: RedisServer,
) -> None:
    async def scenario(client: aioredis.Redis, keys: KeySpace) -> None:
        store = SessionStore(client, keys, POLICY, time.time)
        session = await store.create("carol")
        rotated = await store.refresh(str(session.refresh_token))
        assert rotated.new_refresh_token is not None
        # A second request with the old token mints its own replacement: not the same call.
        graced = await store.refresh(str(session.refresh_token))
        assert graced.outcome is RotationOutcome.GRACE
        assert graced.new_refresh_token is None
        stored = await _session_fields(client, keys, rotated.new_refresh_token)
        assert stored[b"current"].decode() == rotated.new_refresh_token.secret_hash

    _run(redis_server, scenario)


def test_without_the_retry_a_lost_reply_leaves_the_client_a_token_in_grace_only(
    redis_server: RedisServer,
) -> None:
    """Why write scripts keep their retry: without it, the client is stranded."""

    async def scenario(client: aioredis.Redis, keys: KeySpace) -> None:
        async with _proxy(redis_server) as proxy:
            no_retry = aioredis.Redis.from_url(
                proxy.url, socket_timeout=0.5, retry=Retry(NoBackoff(), retries=0)
            )
            try:
                store = SessionStore(no_retry, keys, POLICY, time.time)
                session = await store.create("dave")
                # The lost reply must be the rotation's, not a NOSCRIPT (another test may
                # have flushed the script cache): one rotation first loads the script.
                await store.refresh(str((await store.create("dave")).refresh_token))
                proxy.lose_next_reply()
                with pytest.raises(StoreUnavailable):
                    await store.refresh(str(session.refresh_token))
            finally:
                await no_retry.aclose()
        # The rotation ran: the client's only token is now "previous", good for grace alone.
        direct = SessionStore(client, keys, POLICY, time.time)
        graced = await direct.refresh(str(session.refresh_token))
        assert graced.outcome is RotationOutcome.GRACE
        assert graced.new_refresh_token is None

    _run(redis_server, scenario)


# --- unconfirmed writes (no replica acknowledged) -------------------------------------------------


def test_an_unconfirmed_rotation_answers_unavailable_and_the_old_token_rotates_again(
    redis_server: RedisServer,
) -> None:
    async def scenario(client: aioredis.Redis, keys: KeySpace) -> None:
        clock = Clock()
        waiting = SessionStore(client, keys, POLICY, clock, replica_ack=ONE_REPLICA)
        plain = SessionStore(client, keys, POLICY, clock)
        session = await plain.create("erin")
        with pytest.raises(StoreUnavailable) as failed:
            await waiting.refresh(str(session.refresh_token))
        assert str(failed.value) == REPLICAS_BEHIND
        stored = await _session_fields(client, keys, session.refresh_token)
        # Applied on the master, and marked: its new token was never handed out.
        assert stored[b"previous"].decode() == session.refresh_token.secret_hash
        assert stored[b"undelivered"] == stored[b"current"]
        # Past the grace window too, the presented token is still its holder's only one.
        clock.now += POLICY.grace_seconds + 1
        retried = await plain.refresh(str(session.refresh_token))
        assert retried.outcome is RotationOutcome.ROTATED
        assert retried.new_refresh_token is not None
        stored = await _session_fields(client, keys, session.refresh_token)
        assert stored[b"current"].decode() == retried.new_refresh_token.secret_hash
        assert b"undelivered" not in stored
        # Everything is ordinary again: the new token rotates, the old one is in grace.
        assert (await plain.refresh(str(retried.new_refresh_token))).outcome is (
            RotationOutcome.ROTATED
        )

    _run(redis_server, scenario)


def test_an_unconfirmed_revocation_answers_unavailable_but_stands(
    redis_server: RedisServer,
) -> None:
    async def scenario(client: aioredis.Redis, keys: KeySpace) -> None:
        waiting = SessionStore(client, keys, POLICY, time.time, replica_ack=ONE_REPLICA)
        plain = SessionStore(client, keys, POLICY, time.time)
        one = await plain.create("frank")
        other = await plain.create("frank")
        with pytest.raises(StoreUnavailable, match=REPLICAS_BEHIND):
            await waiting.revoke("frank", one.session_id)
        assert not await plain.is_live("frank", one.session_id)
        with pytest.raises(StoreUnavailable, match=REPLICAS_BEHIND):
            await waiting.revoke_all("frank")
        assert not await plain.is_live("frank", other.session_id)
        with pytest.raises(RefreshRejected):
            await plain.refresh(str(other.refresh_token))

    _run(redis_server, scenario)


def test_a_grace_answer_is_not_held_back_for_replicas(redis_server: RedisServer) -> None:
    async def scenario(client: aioredis.Redis, keys: KeySpace) -> None:
        waiting = SessionStore(client, keys, POLICY, time.time, replica_ack=ONE_REPLICA)
        plain = SessionStore(client, keys, POLICY, time.time)
        session = await plain.create("grace")
        await plain.refresh(str(session.refresh_token))
        # Grace writes nothing: there is nothing a failover could lose.
        graced = await waiting.refresh(str(session.refresh_token))
        assert graced.outcome is RotationOutcome.GRACE

    _run(redis_server, scenario)


# --- a flushed script cache -----------------------------------------------------------------------


def test_every_session_operation_works_after_script_flush(redis_server: RedisServer) -> None:
    async def scenario(client: aioredis.Redis, keys: KeySpace) -> None:
        store = SessionStore(client, keys, POLICY, time.time)
        warm = await store.create("henry")
        await store.refresh(str(warm.refresh_token))  # every script is loaded now
        # Before each call, as on a master promoted by a failover (SCRIPT LOAD is not
        # replicated): redis-py's Script answers NOSCRIPT by loading it and running again.
        await client.script_flush()
        session = await store.create("henry")
        await client.script_flush()
        rotated = await store.refresh(str(session.refresh_token))
        assert rotated.outcome is RotationOutcome.ROTATED
        await client.script_flush()
        assert (await store.step_up("henry", session.session_id, ["otp"])) is not None
        await client.script_flush()
        assert await store.revoke("henry", session.session_id)
        await client.script_flush()
        assert await store.revoke_all("henry") == [warm.session_id]

    _run(redis_server, scenario)


def test_a_confirmed_write_works_after_script_flush(redis_server: RedisServer) -> None:
    async def scenario(client: aioredis.Redis, keys: KeySpace) -> None:
        plain = SessionStore(client, keys, POLICY, time.time)
        waiting = SessionStore(client, keys, POLICY, time.time, replica_ack=ONE_REPLICA)
        session = await plain.create("iris")
        await plain.refresh(str(session.refresh_token))
        await client.script_flush()
        # The script ran on the pinned connection (the revocation stands); only the
        # replica's confirmation is missing.
        with pytest.raises(StoreUnavailable, match=REPLICAS_BEHIND):
            await waiting.revoke("iris", session.session_id)
        assert not await plain.is_live("iris", session.session_id)

    _run(redis_server, scenario)


# --- a master that refuses writes (min-replicas-to-write) -----------------------------------------


def test_a_master_refusing_writes_for_want_of_replicas_is_an_outage(
    redis_server: RedisServer,
) -> None:
    async def scenario(client: aioredis.Redis, keys: KeySpace) -> None:
        store = SessionStore(client, keys, POLICY, time.time)
        session = await store.create("jill")
        # The standalone server has no replica: with this setting it refuses every write.
        await client.config_set("min-replicas-to-write", 1)
        try:
            with pytest.raises(StoreUnavailable, match="NoReplicas"):
                await store.refresh(str(session.refresh_token))
            with pytest.raises(StoreUnavailable, match="NoReplicas"):
                await store.create("jill")
            with pytest.raises(StoreUnavailable, match="NoReplicas"):
                await store.revoke("jill", session.session_id)
            # Reads still answer, and nothing was written: the session is live, unrotated.
            assert await store.is_live("jill", session.session_id)
        finally:
            await client.config_set("min-replicas-to-write", 0)
        rotated = await store.refresh(str(session.refresh_token))
        assert rotated.outcome is RotationOutcome.ROTATED

    _run(redis_server, scenario)


# --- a confirmed rotation (a real replica acknowledged it) ----------------------------------------


@contextlib.contextmanager
def _replica_of(redis_server: RedisServer, workdir: Path) -> Iterator[None]:
    """A real redis-server replicating the fixture's, in sync when this yields."""
    port = processes.free_port()
    replica = processes.start_redis(
        workdir,
        port,
        persistence=(
            *processes.NO_PERSISTENCE,
            "--replicaof",
            processes.LOOPBACK,
            str(redis_server.port),
        ),
    )
    try:
        with redis.Redis(host=processes.LOOPBACK, port=port) as client:
            deadline = time.monotonic() + SETTLE_SECONDS
            while client.info("replication").get("master_link_status") != "up":
                assert time.monotonic() < deadline, "the replica never got in sync"
                time.sleep(0.02)
        yield
    finally:
        replica.stop()


def test_a_confirmed_rotation_makes_the_replaced_token_a_replay_after_its_grace(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    # The rotation script marks its rotation `unconfirmed`; once a replica has it, the
    # store clears the mark, so the replaced token is a replay again past its grace.
    async def scenario(client: aioredis.Redis, keys: KeySpace) -> None:
        clock = Clock()
        confirmed = ReplicaAck(min_replicas=1, wait_ms=int(SETTLE_SECONDS * 1000))
        store = SessionStore(client, keys, POLICY, clock, replica_ack=confirmed)
        session = await store.create("gina")
        rotated = await store.refresh(str(session.refresh_token))
        assert rotated.outcome is RotationOutcome.ROTATED
        stored = await _session_fields(client, keys, session.refresh_token)
        assert b"unconfirmed" not in stored

        clock.now += POLICY.grace_seconds + 1
        with pytest.raises(RefreshRejected) as replayed:
            await store.refresh(str(session.refresh_token))
        assert replayed.value.reason == "replayed"

    with _replica_of(redis_server, tmp_path):
        _run(redis_server, scenario)
