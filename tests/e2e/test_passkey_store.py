"""A user's passkeys and the WebAuthn challenges against a real Redis: a passkey reads back
as it was registered (in the fields existing records hold), once per credential and at most
MAX_PASSKEYS_PER_USER a user; a sign count only goes up; removal; one answer per challenge."""

from __future__ import annotations

import asyncio
import base64
import secrets
from typing import TYPE_CHECKING

import redis.asyncio as aioredis

from verifier.factors.passkey_store import (
    MAX_PASSKEYS_PER_USER,
    PASSWORDLESS,
    REGISTER,
    SECOND_FACTOR,
    ChallengeStore,
    Passkey,
    PasskeyStore,
    binding_hash,
    credential_hash,
)
from verifier.factors.passkeys import CEREMONY_SECONDS, NewCredential
from verifier.store.keyspace import KeySpace

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from conftest import RedisServer

NOW = 1_796_000_015.25

# Credential ids whose base64url text needs two, one and no "=" of padding, and one whose
# text ends in "X" (a character the padding must be told apart from).
ID_TWO_PADS = b"\x01\x02\x03\x04\x05\x06\x07"  # 7 bytes: 10 characters
ID_ONE_PAD = b"\xfb\xff\xfe\x00\x10"  # 5 bytes: 7 characters, "-" and "_" among them
ID_NO_PAD = b"credential-id-24-bytes!!"  # 24 bytes: 32 characters
ID_ENDS_IN_X = b"\x00\x00\x17"  # "AAAX"


def _run(
    redis_server: RedisServer,
    scenario: Callable[[PasskeyStore, ChallengeStore, aioredis.Redis, KeySpace], Awaitable[None]],
) -> None:
    async def main() -> None:
        keys = KeySpace(f"passkeys-{secrets.token_hex(4)}")
        client = aioredis.Redis.from_url(redis_server.url)
        try:
            await scenario(PasskeyStore(client, keys), ChallengeStore(client, keys), client, keys)
        finally:
            await client.aclose()

    asyncio.run(main())


def _credential(credential_id: bytes, sign_count: int = 0, *transports: str) -> NewCredential:
    return NewCredential(
        credential_id=credential_id,
        public_key=b"public-key-of-" + credential_id,
        sign_count=sign_count,
        transports=transports,
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_a_passkey_reads_back_as_it_was_registered(redis_server: RedisServer) -> None:
    async def scenario(
        store: PasskeyStore, _: ChallengeStore, client: aioredis.Redis, keys: KeySpace
    ) -> None:
        for number, credential_id in enumerate((ID_TWO_PADS, ID_ONE_PAD, ID_NO_PAD, ID_ENDS_IN_X)):
            credential = _credential(credential_id, 7, "usb", "nfc")
            assert await store.add("alice", credential, f"key {number}", NOW + number) == 1

            assert await store.find("alice", credential_id) == Passkey(
                credential_id=credential_id,
                public_key=b"public-key-of-" + credential_id,
                sign_count=7,
                transports=("usb", "nfc"),
                name=f"key {number}",
                created=NOW + number,
                last_used=None,
            )
        assert await store.find("alice", b"never registered") is None
        assert await store.find("bob", ID_NO_PAD) is None

    _run(redis_server, scenario)


def test_a_passkey_is_stored_in_the_fields_existing_records_hold(
    redis_server: RedisServer,
) -> None:
    # Records written by earlier versions stay in Redis: the field names, unpadded
    # base64url and repr() of the time are a format, not a detail.
    async def scenario(
        store: PasskeyStore, _: ChallengeStore, client: aioredis.Redis, keys: KeySpace
    ) -> None:
        assert await store.add("alice", _credential(ID_TWO_PADS, 3, "internal"), "Laptop", NOW)

        digest = credential_hash(ID_TWO_PADS)
        assert await client.smembers(keys.passkeys("alice")) == {digest.encode()}
        assert await client.hgetall(keys.passkey("alice", digest)) == {
            b"credential_id": _b64(ID_TWO_PADS).encode(),
            b"public_key": _b64(b"public-key-of-" + ID_TWO_PADS).encode(),
            b"sign_count": b"3",
            b"transports": b"internal",
            b"name": b"Laptop",
            b"created": repr(NOW).encode(),
        }

    _run(redis_server, scenario)


def test_a_passkey_without_transports_reads_back_with_none(redis_server: RedisServer) -> None:
    async def scenario(
        store: PasskeyStore, _: ChallengeStore, client: aioredis.Redis, keys: KeySpace
    ) -> None:
        assert await store.add("alice", _credential(ID_NO_PAD), "", NOW) == 1
        found = await store.find("alice", ID_NO_PAD)
        assert found is not None
        assert found.transports == ()
        assert found.name == ""

    _run(redis_server, scenario)


def test_a_record_missing_a_field_or_with_a_bad_number_is_no_passkey(
    redis_server: RedisServer,
) -> None:
    async def scenario(
        store: PasskeyStore, _: ChallengeStore, client: aioredis.Redis, keys: KeySpace
    ) -> None:
        good = _credential(ID_NO_PAD)
        assert await store.add("alice", good, "kept", NOW) == 1
        for credential_id, drop, bad in (
            (b"no public key", "public_key", {}),
            (b"no created", "created", {}),
            (b"no sign count", "sign_count", {}),
            (b"no credential", "credential_id", {}),
            (b"count in words", "", {"sign_count": "three"}),
            (b"created in words", "", {"created": "yesterday"}),
            (b"used in words", "", {"last_used": "yesterday"}),
        ):
            assert await store.add("alice", _credential(credential_id), "broken", NOW + 1) == 1
            key = keys.passkey("alice", credential_hash(credential_id))
            if drop:
                await client.hdel(key, drop)
            if bad:
                await client.hset(key, mapping=bad)
            assert await store.find("alice", credential_id) is None

        # The broken records are skipped, not fatal: the good one is still listed.
        assert [passkey.name for passkey in await store.list("alice")] == ["kept"]

    _run(redis_server, scenario)


def test_a_record_without_transports_or_name_reads_back_with_none(
    redis_server: RedisServer,
) -> None:
    # Only the credential, its key, its count and its time are required of a record.
    async def scenario(
        store: PasskeyStore, _: ChallengeStore, client: aioredis.Redis, keys: KeySpace
    ) -> None:
        assert await store.add("alice", _credential(ID_NO_PAD, 2, "usb"), "Key", NOW) == 1
        await client.hdel(keys.passkey("alice", credential_hash(ID_NO_PAD)), "transports", "name")

        found = await store.find("alice", ID_NO_PAD)

        assert found is not None
        assert (found.transports, found.name, found.sign_count) == ((), "", 2)

    _run(redis_server, scenario)


def test_the_list_is_every_passkey_of_the_user_oldest_first(redis_server: RedisServer) -> None:
    async def scenario(
        store: PasskeyStore, _: ChallengeStore, client: aioredis.Redis, keys: KeySpace
    ) -> None:
        assert await store.list("alice") == []
        # Added in an order unlike both their creation times and their hashes' order.
        created = {
            ID_NO_PAD: NOW + 20,
            ID_TWO_PADS: NOW,
            ID_ONE_PAD: NOW + 10,
            ID_ENDS_IN_X: NOW + 5,
        }
        for credential_id, at in created.items():
            assert await store.add("alice", _credential(credential_id), _b64(credential_id), at)
        await store.add("bob", _credential(b"bob's own"), "bob's", NOW)

        listed = await store.list("alice")

        assert [passkey.credential_id for passkey in listed] == sorted(created, key=created.get)
        assert [passkey.created for passkey in listed] == sorted(created.values())
        assert await store.count("alice") == 4
        assert await store.count("bob") == 1
        assert await store.count("carol") == 0

    _run(redis_server, scenario)


def test_a_credential_id_is_registered_once(redis_server: RedisServer) -> None:
    async def scenario(
        store: PasskeyStore, _: ChallengeStore, client: aioredis.Redis, keys: KeySpace
    ) -> None:
        assert await store.add("alice", _credential(ID_NO_PAD, 1), "first", NOW) == 1
        assert await store.add("alice", _credential(ID_NO_PAD, 9), "again", NOW + 1) == 0

        found = await store.find("alice", ID_NO_PAD)
        assert found is not None
        assert (found.name, found.sign_count, found.created) == ("first", 1, NOW)
        assert await store.count("alice") == 1
        # Another user may hold the same credential id: each user's passkeys are their own.
        assert await store.add("bob", _credential(ID_NO_PAD), "bob's", NOW) == 1

    _run(redis_server, scenario)


def test_a_user_at_the_limit_adds_no_passkey(redis_server: RedisServer) -> None:
    async def scenario(
        store: PasskeyStore, _: ChallengeStore, client: aioredis.Redis, keys: KeySpace
    ) -> None:
        for number in range(MAX_PASSKEYS_PER_USER):
            assert await store.add("alice", _credential(b"key %d" % number), "", NOW) == 1

        assert await store.add("alice", _credential(b"one more"), "", NOW) == -1

        assert await store.count("alice") == MAX_PASSKEYS_PER_USER
        assert await store.find("alice", b"one more") is None
        assert not await client.exists(keys.passkey("alice", credential_hash(b"one more")))

    _run(redis_server, scenario)


def test_a_sign_in_is_recorded_only_with_a_sign_count_that_went_up(
    redis_server: RedisServer,
) -> None:
    async def scenario(
        store: PasskeyStore, _: ChallengeStore, client: aioredis.Redis, keys: KeySpace
    ) -> None:
        await store.add("alice", _credential(ID_NO_PAD, 5), "", NOW)
        passkey = await store.find("alice", ID_NO_PAD)
        assert passkey is not None

        assert await store.record_use("alice", passkey, 5, NOW + 1) == 0  # the same count
        assert await store.record_use("alice", passkey, 4, NOW + 1) == 0  # went back
        assert await store.find("alice", ID_NO_PAD) == passkey  # nothing written

        assert await store.record_use("alice", passkey, 6, NOW + 2.5) == 1

        used = await store.find("alice", ID_NO_PAD)
        assert used is not None
        assert (used.sign_count, used.last_used) == (6, NOW + 2.5)
        assert await store.record_use("alice", passkey, 6, NOW + 3) == 0  # replayed
        assert await store.record_use("bob", passkey, 7, NOW + 3) == -1  # not bob's

        await store.remove("alice", passkey.credential_hash)
        assert await store.record_use("alice", passkey, 8, NOW + 4) == -1  # gone

    _run(redis_server, scenario)


def test_an_authenticator_without_a_counter_signs_in_each_time(redis_server: RedisServer) -> None:
    # WebAuthn: an authenticator that keeps no count answers 0 every time.
    async def scenario(
        store: PasskeyStore, _: ChallengeStore, client: aioredis.Redis, keys: KeySpace
    ) -> None:
        await store.add("alice", _credential(ID_NO_PAD, 0), "", NOW)
        passkey = await store.find("alice", ID_NO_PAD)
        assert passkey is not None

        assert await store.record_use("alice", passkey, 0, NOW + 1) == 1
        assert await store.record_use("alice", passkey, 0, NOW + 2) == 1
        used = await store.find("alice", ID_NO_PAD)
        assert used is not None
        assert (used.sign_count, used.last_used) == (0, NOW + 2)

        # Once it counts, a 0 is a count that went back.
        assert await store.record_use("alice", passkey, 1, NOW + 3) == 1
        assert await store.record_use("alice", passkey, 0, NOW + 4) == 0

    _run(redis_server, scenario)


def test_a_removed_passkey_is_gone_and_removed_once(redis_server: RedisServer) -> None:
    async def scenario(
        store: PasskeyStore, _: ChallengeStore, client: aioredis.Redis, keys: KeySpace
    ) -> None:
        await store.add("alice", _credential(ID_NO_PAD), "", NOW)
        await store.add("alice", _credential(ID_ONE_PAD), "", NOW)
        await store.add("bob", _credential(ID_NO_PAD), "", NOW)
        digest = credential_hash(ID_NO_PAD)

        assert await store.remove("alice", digest) is True
        assert await store.remove("alice", digest) is False
        assert await store.remove("alice", credential_hash(b"never registered")) is False

        assert await store.find("alice", ID_NO_PAD) is None
        assert not await client.exists(keys.passkey("alice", digest))
        assert await store.count("alice") == 1
        assert await store.find("bob", ID_NO_PAD) is not None

    _run(redis_server, scenario)


def test_removing_every_passkey_counts_them_and_leaves_other_users(
    redis_server: RedisServer,
) -> None:
    async def scenario(
        store: PasskeyStore, _: ChallengeStore, client: aioredis.Redis, keys: KeySpace
    ) -> None:
        for credential_id in (ID_NO_PAD, ID_ONE_PAD, ID_TWO_PADS):
            await store.add("alice", _credential(credential_id), "", NOW)
        await store.add("bob", _credential(ID_NO_PAD), "", NOW)

        assert await store.remove_all("alice") == 3

        assert await store.list("alice") == []
        assert await client.keys(f"{keys.prefix}:{{alice}}:*") == []
        assert await store.remove_all("alice") == 0
        assert await store.count("bob") == 1

    _run(redis_server, scenario)


def test_a_challenge_is_answered_once_with_its_state(redis_server: RedisServer) -> None:
    async def scenario(
        _: PasskeyStore, challenges: ChallengeStore, client: aioredis.Redis, keys: KeySpace
    ) -> None:
        challenge = b"\xfb\xff" + secrets.token_bytes(30)
        await challenges.put(REGISTER, "session-1", challenge, user="alice", name="Laptop")

        key = keys.webauthn_challenge(REGISTER, binding_hash("session-1"))
        assert 0 < await client.ttl(key) <= CEREMONY_SECONDS
        assert await challenges.take(REGISTER, "session-1") == (
            challenge,
            {"user": "alice", "name": "Laptop"},
        )
        assert await challenges.take(REGISTER, "session-1") is None

    _run(redis_server, scenario)


def test_a_challenge_belongs_to_its_ceremony_and_its_browser(redis_server: RedisServer) -> None:
    async def scenario(
        _: PasskeyStore, challenges: ChallengeStore, client: aioredis.Redis, keys: KeySpace
    ) -> None:
        await challenges.put(SECOND_FACTOR, "pending-1", b"first")
        await challenges.put(SECOND_FACTOR, "pending-1", b"second")  # the last one wins

        assert await challenges.take(PASSWORDLESS, "pending-1") is None
        assert await challenges.take(SECOND_FACTOR, "pending-2") is None
        assert await challenges.take(SECOND_FACTOR, "pending-1") == (b"second", {})
        # The key names the binding's hash, never the binding.
        await challenges.put(PASSWORDLESS, "cookie-value", b"x")
        assert [k for k in await client.keys(f"{keys.prefix}:*") if b"cookie-value" in k] == []

    _run(redis_server, scenario)


def test_a_corrupt_challenge_record_is_no_challenge(redis_server: RedisServer) -> None:
    async def scenario(
        _: PasskeyStore, challenges: ChallengeStore, client: aioredis.Redis, keys: KeySpace
    ) -> None:
        for record in ("not json", '{"user": "alice"}', '"a string"', '{"challenge": "A"}'):
            await client.set(keys.webauthn_challenge(REGISTER, binding_hash("b")), record)
            assert await challenges.take(REGISTER, "b") is None, record

    _run(redis_server, scenario)
