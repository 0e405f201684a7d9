"""The user store against a real redis-server: groups, their invalidation, imported hashes."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import pytest
import redis.asyncio as aioredis
from e2e_helpers import watching_revocations

from verifier.errors import InvalidCredentials
from verifier.sessions.liveness import LivenessCache
from verifier.store.keyspace import KeySpace
from verifier.users.passwords import PasswordHasher
from verifier.users.store import GROUPS_FIELD, BadUserInput, UnknownUser, UserExists, UserStore

if TYPE_CHECKING:
    from conftest import RedisServer

T = TypeVar("T")

# htpasswd -B (cost 5) and -m from Debian's apache2-utils.
BCRYPT_5 = ("$2y$05$EedJ3Akby85WmoRwBZW5XuUSe8WxJIk1M.AJ.hgrfRaOlUjQMg/qW", "pw-bcrypt-1")
APR1 = ("$apr1$WUuMzysm$2dLGSMAsdI9ObxfZfYXCt/", "pw-apr1-1")
PASSWORD = "a-native-password"

Scenario = Callable[[UserStore, aioredis.Redis, KeySpace], Awaitable[T]]


def _run(
    redis_server: RedisServer, scenario: Scenario[T], liveness: LivenessCache | None = None
) -> T:
    """Run `scenario(store, client, keys)` on a fresh client and key prefix."""

    async def main() -> T:
        client = aioredis.Redis.from_url(redis_server.url)
        keys = KeySpace(f"users-{secrets.token_hex(4)}")
        hasher = PasswordHasher()
        try:
            return await scenario(UserStore(client, keys, hasher, liveness), client, keys)
        finally:
            hasher.close()
            await client.aclose()

    return asyncio.run(main())


# --- groups -----------------------------------------------------------------------------------


def test_groups_are_stored_normalized_sorted_and_unique(redis_server: RedisServer) -> None:
    async def scenario(store: UserStore, client: aioredis.Redis, keys: KeySpace) -> None:
        await store.add("alice", PASSWORD, ["Ops", "admins", "ops"])
        assert await client.hget(keys.user("alice"), GROUPS_FIELD) == b"admins,ops"
        assert await store.groups("ALICE") == ("admins", "ops")

        assert await store.change_groups("alice", add=["dev"], remove=["admins"]) == (
            "dev",
            "ops",
        )
        assert await client.hget(keys.user("alice"), GROUPS_FIELD) == b"dev,ops"

        assert await store.set_groups("alice", []) == ()
        assert not await client.hexists(keys.user("alice"), GROUPS_FIELD)
        assert await store.groups("alice") == ()

    _run(redis_server, scenario)


def test_a_damaged_groups_field_is_rewritten_clean(redis_server: RedisServer) -> None:
    async def scenario(store: UserStore, client: aioredis.Redis, keys: KeySpace) -> None:
        await store.add("alice", PASSWORD)
        await client.hset(keys.user("alice"), GROUPS_FIELD, b"ops,,bad group,\xff,Admins")

        assert await store.groups("alice") == ("admins", "ops")
        assert await store.change_groups("alice", add=["dev"]) == ("admins", "dev", "ops")
        assert await client.hget(keys.user("alice"), GROUPS_FIELD) == b"admins,dev,ops"

    _run(redis_server, scenario)


def test_groups_of_an_unknown_user_are_refused_and_nothing_is_created(
    redis_server: RedisServer,
) -> None:
    async def scenario(store: UserStore, client: aioredis.Redis, keys: KeySpace) -> None:
        with pytest.raises(UnknownUser, match="no user ghost"):
            await store.change_groups("ghost", add=["ops"])
        with pytest.raises(UnknownUser):
            await store.groups("ghost")
        assert not await client.exists(keys.user("ghost"))

    _run(redis_server, scenario)


def test_every_groups_change_is_published_for_the_user(redis_server: RedisServer) -> None:
    async def scenario(store: UserStore, client: aioredis.Redis, keys: KeySpace) -> list[str]:
        with watching_revocations(redis_server.url, keys.revocations()) as watch:
            await store.add("alice", PASSWORD)
            await asyncio.to_thread(watch.wait_for, "g alice")
            watch.heard.clear()
            await store.change_groups("alice", add=["ops"])
            await asyncio.to_thread(watch.wait_for, "g alice")
            watch.heard.clear()
            await store.set_groups("alice", [])
            await asyncio.to_thread(watch.wait_for, "g alice")
            return watch.heard

    assert _run(redis_server, scenario) == ["g alice"]


def test_a_groups_change_forgets_the_users_cached_sessions_in_this_worker(
    redis_server: RedisServer,
) -> None:
    cache = LivenessCache(time.monotonic, max_age_seconds=60)
    cache.trust()

    async def scenario(store: UserStore, client: aioredis.Redis, keys: KeySpace) -> None:
        await store.add("alice", PASSWORD)
        await store.add("bob", PASSWORD)
        cache.remember("alice", "s1", cache.epoch)
        cache.remember("bob", "s2", cache.epoch)

        await store.change_groups("alice", add=["ops"])

        assert not cache.is_known_live("alice", "s1")
        assert cache.is_known_live("bob", "s2")

    _run(redis_server, scenario, liveness=cache)


# --- imported hashes --------------------------------------------------------------------------


def test_imported_bcrypt_account_is_listed_by_cost_until_its_first_sign_in(
    redis_server: RedisServer,
) -> None:
    async def scenario(store: UserStore, client: aioredis.Redis, keys: KeySpace) -> None:
        stored, password = BCRYPT_5
        assert await store.import_hashed("Alice", stored, ["legacy"])
        assert await client.zscore(keys.imported_bcrypt(), "alice") == 5
        assert await client.hget(keys.user("alice"), "password_hash") == stored.encode()
        assert await store.groups("alice") == ("legacy",)

        with pytest.raises(InvalidCredentials):
            await store.authenticate("alice", "not-the-password")
        assert await client.hget(keys.user("alice"), "password_hash") == stored.encode()

        assert await store.authenticate("alice", password) == "alice"
        upgraded = await client.hget(keys.user("alice"), "password_hash")
        assert upgraded.startswith(b"$argon2id$")
        assert await client.zscore(keys.imported_bcrypt(), "alice") is None
        assert await store.authenticate("alice", password) == "alice"

    _run(redis_server, scenario)


def test_import_leaves_an_existing_user_as_it_was(redis_server: RedisServer) -> None:
    async def scenario(store: UserStore, client: aioredis.Redis, keys: KeySpace) -> None:
        await store.add("alice", PASSWORD, ["ops"])
        before = await client.hgetall(keys.user("alice"))

        assert not await store.import_hashed("alice", BCRYPT_5[0], ["legacy"])

        assert await client.hgetall(keys.user("alice")) == before
        assert await client.zscore(keys.imported_bcrypt(), "alice") is None
        assert await store.authenticate("alice", PASSWORD) == "alice"
        with pytest.raises(UserExists, match="user alice already exists"):
            await store.add("alice", PASSWORD)

    _run(redis_server, scenario)


def test_removing_or_resetting_an_imported_user_drops_its_cost(redis_server: RedisServer) -> None:
    async def scenario(store: UserStore, client: aioredis.Redis, keys: KeySpace) -> None:
        await store.import_hashed("alice", BCRYPT_5[0])
        await store.import_hashed("bob", BCRYPT_5[0].replace("$05$", "$04$"))

        await store.set_password("alice", "a-brand-new-password")
        await store.remove("bob")

        assert await client.zcard(keys.imported_bcrypt()) == 0

    _run(redis_server, scenario)


def test_apr1_account_is_upgraded_on_its_first_sign_in(redis_server: RedisServer) -> None:
    async def scenario(store: UserStore, client: aioredis.Redis, keys: KeySpace) -> None:
        stored, password = APR1
        await store.import_hashed("carol", stored)

        assert [s.password_scheme for s in await store.summaries()] == ["apr1"]
        assert await store.authenticate("carol", password) == "carol"
        assert [s.password_scheme for s in await store.summaries()] == ["argon2id"]

    _run(redis_server, scenario)


@pytest.mark.parametrize(
    "password_hash",
    ["plaintext", "$6$salt$digest", BCRYPT_5[0].replace("$05$", "$13$"), "$argon2id$v=19$x"],
)
def test_only_importable_hashes_are_accepted(redis_server: RedisServer, password_hash: str) -> None:
    async def scenario(store: UserStore, client: aioredis.Redis, keys: KeySpace) -> None:
        with pytest.raises(BadUserInput, match="only bcrypt"):
            await store.import_hashed("alice", password_hash)
        assert not await client.exists(keys.user("alice"))
        assert await client.zcard(keys.imported_bcrypt()) == 0

    _run(redis_server, scenario)


# --- hashes from an export --------------------------------------------------------------------


def test_an_exported_argon2id_hash_and_creation_time_are_imported_as_they_are(
    redis_server: RedisServer,
) -> None:
    async def scenario(store: UserStore, client: aioredis.Redis, keys: KeySpace) -> None:
        await store.add("alice", PASSWORD, ["ops"])
        (record,) = await store.records()
        assert await store.import_hashed("bob", record.password_hash, ["ops"], created=123)
        assert await client.hget(keys.user("bob"), "created") == b"123"
        assert await client.zcard(keys.imported_bcrypt()) == 0
        assert await store.authenticate("bob", PASSWORD) == "bob"
        assert [(r.name, r.groups, r.created) for r in await store.records()] == [
            ("alice", ("ops",), record.created),
            ("bob", ("ops",), 123),
        ]

    _run(redis_server, scenario)


def test_replacing_a_hash_says_whether_it_changed_and_keeps_the_bcrypt_list_right(
    redis_server: RedisServer,
) -> None:
    async def scenario(store: UserStore, client: aioredis.Redis, keys: KeySpace) -> None:
        await store.add("alice", PASSWORD)
        native = await client.hget(keys.user("alice"), "password_hash")
        assert await store.replace_hash("alice", BCRYPT_5[0])
        assert await client.zscore(keys.imported_bcrypt(), "alice") == 5
        assert not await store.replace_hash("alice", BCRYPT_5[0])
        assert await store.authenticate("alice", BCRYPT_5[1]) == "alice"
        assert await client.zcard(keys.imported_bcrypt()) == 0  # upgraded at sign-in
        assert await store.replace_hash("alice", native.decode())
        assert await store.authenticate("alice", PASSWORD) == "alice"
        with pytest.raises(UnknownUser):
            await store.replace_hash("nobody", native.decode())
        with pytest.raises(BadUserInput, match="only bcrypt"):
            await store.replace_hash("alice", "plaintext")

    _run(redis_server, scenario)
