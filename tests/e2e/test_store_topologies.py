"""verifier.store's client on a real Sentinel and a real Cluster: every Lua script runs.

Each store is driven through its own methods with the client `verifier.store.connect`
builds from the settings' target, so each script meets the real routing: on Cluster every
script must touch one slot (the `{user}` hash tag), on Sentinel the client must find the
master through the sentinels.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pyotp
import pytest
import redis
from redis_topologies import SENTINEL_MASTER, RedisClusterDeployment, SentinelDeployment

from verifier.demo.processes import LOOPBACK
from verifier.errors import RefreshRejected
from verifier.factors.methods import PASSWORD, RECOVERY_CODE, TOTP
from verifier.factors.recovery import RecoveryCodes
from verifier.factors.user_factors import UserFactors
from verifier.sessions.pending_signin import VERIFY, PendingSignIns
from verifier.sessions.store import RotationOutcome, SessionPolicy, SessionStore
from verifier.store import RedisClient, RedisMode, RedisTarget, connect, parse_nodes
from verifier.store.keyspace import KeySpace
from verifier.users.passwords import PasswordHasher
from verifier.users.store import UserStore
from verifier.users.throttle import LoginThrottle, LoginThrottled, ThrottlePolicy

pytestmark = pytest.mark.ha

T = TypeVar("T")
POLICY = SessionPolicy(
    idle_seconds=600, absolute_seconds=3600, grace_seconds=30, max_sessions_per_user=3
)


@pytest.fixture(params=["sentinel", "cluster"])
def target(
    request: pytest.FixtureRequest,
) -> RedisTarget:
    """The target of a real Sentinel or Cluster deployment, as the settings would build it."""
    if request.param == "sentinel":
        sentinel: SentinelDeployment = request.getfixturevalue("redis_sentinel")
        return RedisTarget(
            mode=RedisMode.SENTINEL,
            nodes=parse_nodes(sentinel.sentinels),
            sentinel_master=SENTINEL_MASTER,
        )
    cluster: RedisClusterDeployment = request.getfixturevalue("redis_cluster")
    # One seed is enough: the client learns the other nodes (and which serves which slot).
    return RedisTarget(mode=RedisMode.CLUSTER, nodes=parse_nodes(cluster.seeds.split(",")[0]))


def _run(target: RedisTarget, scenario: Callable[[RedisClient, KeySpace], Awaitable[T]]) -> T:
    async def main() -> T:
        client = connect(target)
        try:
            return await scenario(client, KeySpace(f"topo-{secrets.token_hex(4)}"))
        finally:
            await client.aclose()

    return asyncio.run(main())


def test_sessions_are_created_rotated_graced_replayed_and_revoked(target: RedisTarget) -> None:
    async def scenario(client: RedisClient, keys: KeySpace) -> None:
        store = SessionStore(client, keys, POLICY, time.time)
        # Users spread over the cluster's slots, so every master runs the scripts.
        for user in ("alice", "bob", "carol", "dave"):
            session = await store.create(user)
            assert await store.live_groups(user, session.session_id) == ()
            rotated = await store.refresh(str(session.refresh_token))
            assert rotated.outcome is RotationOutcome.ROTATED
            assert rotated.new_refresh_token is not None
            # The old token inside the grace window: access, no second rotation.
            graced = await store.refresh(str(session.refresh_token))
            assert graced.outcome is RotationOutcome.GRACE
            assert await store.list_sessions(user) == [session.session_id]
            assert await store.revoke(user, session.session_id)
            assert not await store.is_live(user, session.session_id)
            with pytest.raises(RefreshRejected):
                await store.refresh(str(rotated.new_refresh_token))

    _run(target, scenario)


def test_a_replayed_refresh_token_ends_the_session(target: RedisTarget) -> None:
    async def scenario(client: RedisClient, keys: KeySpace) -> None:
        store = SessionStore(client, keys, POLICY, time.time)
        session = await store.create("erin")
        first = await store.refresh(str(session.refresh_token))
        assert first.new_refresh_token is not None
        second = await store.refresh(str(first.new_refresh_token))
        assert second.new_refresh_token is not None
        # The first token is now retired (past the previous-slot): presenting it is replay.
        with pytest.raises(RefreshRejected):
            await store.refresh(str(session.refresh_token))
        assert not await store.is_live("erin", session.session_id)

    _run(target, scenario)


def test_logout_everywhere_and_the_session_limit_work(target: RedisTarget) -> None:
    async def scenario(client: RedisClient, keys: KeySpace) -> None:
        store = SessionStore(client, keys, POLICY, time.time)
        sessions = [await store.create("frank") for _ in range(POLICY.max_sessions_per_user + 1)]
        # The oldest was evicted when the limit was passed.
        assert not await store.is_live("frank", sessions[0].session_id)
        ended = await store.revoke_all("frank")
        assert sorted(ended) == sorted(s.session_id for s in sessions[1:])
        assert await store.list_sessions("frank") == []

    _run(target, scenario)


def test_users_groups_throttle_and_recovery_codes_work(target: RedisTarget) -> None:
    async def scenario(client: RedisClient, keys: KeySpace) -> None:
        users = UserStore(client, keys, PasswordHasher(max_parallel=1))
        for name in ("gina", "hank", "ivan"):
            await users.add(name, "a long enough password", groups=["staff"])
        assert await users.names() == ["gina", "hank", "ivan"]
        assert await users.authenticate("hank", "a long enough password") == "hank"
        assert await users.set_groups("hank", ["admins"]) == ("admins",)
        assert [summary.name for summary in await users.summaries()] == ["gina", "hank", "ivan"]
        assert len(await users.records()) == 3

        throttle = LoginThrottle(client, keys, ThrottlePolicy(2, 100, 60))
        await throttle.reserve("gina", "127.0.0.1")
        await throttle.reserve("gina", "127.0.0.1")
        with pytest.raises(LoginThrottled):
            await throttle.reserve("gina", "127.0.0.1")

        codes = RecoveryCodes(client, keys)
        issued = await codes.regenerate("gina")
        assert await codes.use("gina", issued[0])
        assert not await codes.use("gina", issued[0])

    _run(target, scenario)


def test_second_factors_pending_sign_ins_and_step_up_work(target: RedisTarget) -> None:
    async def scenario(client: RedisClient, keys: KeySpace) -> None:
        now = time.time()
        factors = UserFactors(client, keys)
        secret = await factors.begin_enrolment("jill")
        assert await factors.activate_totp("jill", secret)
        codes = await factors.new_recovery_codes("jill")
        code = pyotp.TOTP(secret).at(now)
        assert await factors.check("jill", code, "", now) == TOTP
        assert await factors.check("jill", code, "", now) is None  # its step is spent
        assert await factors.check("jill", "", codes[0], now) == RECOVERY_CODE
        status = await factors.status("jill")
        assert (status.totp, status.recovery_codes_left) == (True, len(codes) - 1)
        assert await factors.remove_all("jill")
        assert not (await factors.status("jill")).totp

        pending = PendingSignIns(client, keys, ttl_seconds=60)
        pending_id = await pending.start("jill", "/next", VERIFY)
        found = await pending.find(pending_id)
        assert found is not None and found.user == "jill"
        assert await pending.count_failure(pending_id) == 1
        assert await pending.finish(pending_id)
        assert await pending.find(pending_id) is None

        sessions = SessionStore(client, keys, POLICY, time.time)
        session = await sessions.create("jill")
        stepped = await sessions.step_up("jill", session.session_id, (PASSWORD, TOTP))
        assert stepped is not None and stepped.sign_in.amr == (PASSWORD, TOTP)

    _run(target, scenario)


def test_the_sentinel_client_writes_to_the_master_the_sentinels_name(
    redis_sentinel: SentinelDeployment,
) -> None:
    target = RedisTarget(
        mode=RedisMode.SENTINEL,
        nodes=parse_nodes(redis_sentinel.sentinels),
        sentinel_master=SENTINEL_MASTER,
    )
    key = f"probe:{secrets.token_hex(4)}"

    async def write(client: RedisClient, keys: KeySpace) -> None:
        await client.set(key, "1")

    _run(target, write)
    with redis.Redis(host=LOOPBACK, port=redis_sentinel.current_master_port()) as master:
        assert master.get(key) == b"1"
