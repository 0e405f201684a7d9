"""Service accounts and disabled accounts in verifier.users.store, on a real redis-server.

Neither may sign in, whatever password is tried, and the refusal is a wrong password's: the
same error after the same checks (the dummies an unknown name is checked against).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from verifier.errors import InvalidCredentials
from verifier.store.keyspace import KeySpace
from verifier.users.export import ExportRefused, parse_document, render_document
from verifier.users.passwords import PasswordHasher
from verifier.users.store import (
    SERVICE_ACCOUNT_HASH,
    BadUserInput,
    UnknownUser,
    UserExists,
    UserStore,
)

PASSWORD = "a long password"


class RecordingHasher(PasswordHasher):
    """The real hasher, noting which stored hash each sign-in was checked against."""

    def __init__(self) -> None:
        super().__init__()
        self.checked: list[str | None] = []

    async def verify(
        self, stored_hash: str | None, password: str, bcrypt_ceiling: int | None = None
    ) -> bool:
        self.checked.append(stored_hash)
        return await super().verify(stored_hash, password, bcrypt_ceiling)


Scenario = Callable[[UserStore, RecordingHasher], Awaitable[None]]
# Each test's own key prefix, so that its channel is its own.
KEYS = KeySpace(f"accounts-{secrets.token_hex(4)}")


def run(redis_url: str, scenario: Scenario, keys: KeySpace | None = None) -> None:
    async def main() -> None:
        client = aioredis.Redis.from_url(redis_url)
        hasher = RecordingHasher()
        try:
            store_keys = keys or KeySpace(f"accounts-{secrets.token_hex(4)}")
            await scenario(UserStore(client, store_keys, hasher), hasher)
        finally:
            hasher.close()
            await client.aclose()

    asyncio.run(main())


def test_a_service_account_signs_in_with_no_password_as_an_unknown_name_does(
    redis_url: str,
) -> None:
    async def scenario(users: UserStore, hasher: RecordingHasher) -> None:
        assert await users.add_service("deploy-bot", ["deployers"]) == "deploy-bot"
        assert await users.groups("deploy-bot") == ("deployers",)
        for password in ("", PASSWORD, SERVICE_ACCOUNT_HASH):
            with pytest.raises(InvalidCredentials):
                await users.authenticate("deploy-bot", password)
        with pytest.raises(InvalidCredentials):
            await users.authenticate("nobody-at-all", PASSWORD)
        # Every attempt was checked against the dummies, the service account's as the
        # unknown name's: the same work, the same answer.
        assert hasher.checked == [None, None, None, None]
        assert not await users.may_sign_in("deploy-bot")

    run(redis_url, scenario)


def test_a_service_account_has_no_password_to_set_and_its_name_is_taken(redis_url: str) -> None:
    async def scenario(users: UserStore, hasher: RecordingHasher) -> None:
        await users.add_service("deploy-bot")
        with pytest.raises(BadUserInput) as refused:
            await users.set_password("deploy-bot", PASSWORD)
        assert "service account" in str(refused.value)
        with pytest.raises(UserExists):
            await users.add_service("deploy-bot")
        with pytest.raises(UserExists):
            await users.add("deploy-bot", PASSWORD)
        (summary,) = await users.summaries()
        assert (summary.name, summary.password_scheme, summary.disabled) == (
            "deploy-bot",
            "service",
            False,
        )

    run(redis_url, scenario)


def test_a_disabled_user_is_refused_with_the_right_password_after_the_same_checks(
    redis_url: str,
) -> None:
    async def scenario(users: UserStore, hasher: RecordingHasher) -> None:
        await users.add("alice", PASSWORD)
        assert await users.authenticate("alice", PASSWORD) == "alice"
        assert await users.set_disabled("alice", True)
        assert not await users.set_disabled("alice", True)  # nothing changed
        hasher.checked.clear()
        with pytest.raises(InvalidCredentials):
            await users.authenticate("alice", PASSWORD)
        assert hasher.checked == [None]
        assert not await users.may_sign_in("alice")
        assert [s.disabled for s in await users.summaries()] == [True]
        assert await users.set_disabled("alice", False)
        assert await users.authenticate("alice", PASSWORD) == "alice"
        assert await users.may_sign_in("alice")

    run(redis_url, scenario)


def test_disabling_a_user_is_announced_on_the_revocation_channel(redis_url: str) -> None:
    async def scenario(users: UserStore, hasher: RecordingHasher) -> None:
        await users.add_service("deploy-bot")
        client = aioredis.Redis.from_url(redis_url)
        channel = client.pubsub()
        await channel.subscribe(KEYS.revocations())
        await channel.get_message(timeout=1)
        await users.set_disabled("deploy-bot", True)
        message = await channel.get_message(timeout=2)
        await channel.aclose()
        await client.aclose()
        assert message is not None
        assert message["data"] == b"g deploy-bot"

    run(redis_url, scenario, KEYS)


def test_an_unknown_user_cannot_be_disabled(redis_url: str) -> None:
    async def scenario(users: UserStore, hasher: RecordingHasher) -> None:
        with pytest.raises(UnknownUser):
            await users.set_disabled("nobody", True)

    run(redis_url, scenario)


def test_an_export_keeps_service_and_disabled_accounts_as_they_were(redis_url: str) -> None:
    async def scenario(users: UserStore, hasher: RecordingHasher) -> None:
        await users.add_service("deploy-bot", ["deployers"])
        await users.add("alice", PASSWORD)
        await users.set_disabled("alice", True)
        document = render_document(await users.records(), 1_900_000_000)
        restored = parse_document(document.encode())
        assert {
            (r.name, r.disabled, r.password_hash == SERVICE_ACCOUNT_HASH) for r in restored
        } == {
            ("alice", True, False),
            ("deploy-bot", False, True),
        }
        assert '"disabled": true' in document
        assert document.count('"disabled"') == 1  # only where it says something

    run(redis_url, scenario)


def test_an_export_with_a_disabled_flag_that_is_not_a_boolean_is_refused() -> None:
    document = (
        '{"format": "verifier-users", "version": 1, "exported_at": 1, "contains": "x", '
        '"users": [{"name": "a", "groups": [], "created": 1, "password_hash": "!service", '
        '"disabled": "yes"}]}'
    )
    with pytest.raises(ExportRefused) as refused:
        parse_document(document.encode())
    assert '"disabled" must be true or false' in str(refused.value)
