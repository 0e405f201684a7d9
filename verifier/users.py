"""The user store: names and argon2id password hashes in Redis."""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from verifier.errors import InvalidCredentials, VerifierError
from verifier.keys import KeySpace, normalize_user_name
from verifier.passwords import MAX_PASSWORD_LENGTH, PasswordHasher
from verifier.redis_store import as_text, guard

# A user's groups live in their record, comma-joined, sorted and unique; absent means none.
GROUPS_FIELD = "groups"


class UserExists(VerifierError):
    """`users add` for a name that is taken."""


class UnknownUser(VerifierError):
    """An admin command named a user that does not exist."""


class BadUserInput(VerifierError):
    """A user name or password that can never be valid (wrong characters, too long)."""


class UserStore:
    """Users kept in Redis; passwords only as argon2id hashes."""

    def __init__(self, client: aioredis.Redis, keys: KeySpace, hasher: PasswordHasher) -> None:
        self._redis = client
        self._keys = keys
        self._hasher = hasher

    async def add(self, raw_name: str, password: str) -> str:
        """Create a user; return the canonical name. Raise UserExists if it is taken."""
        name = _checked_name(raw_name)
        _check_new_password(password)
        password_hash = await self._hasher.hash(password)
        created = await guard(
            self._redis.hsetnx(self._keys.user(name), "password_hash", password_hash)
        )
        if not created:
            raise UserExists(name)
        await guard(self._redis.hset(self._keys.user(name), "created", str(int(time.time()))))
        await guard(self._redis.sadd(self._keys.all_users(), name))
        return name

    async def set_password(self, raw_name: str, password: str) -> str:
        """Replace a user's password; return the canonical name."""
        name = _checked_name(raw_name)
        _check_new_password(password)
        if not await guard(self._redis.exists(self._keys.user(name))):
            raise UnknownUser(name)
        password_hash = await self._hasher.hash(password)
        await guard(self._redis.hset(self._keys.user(name), "password_hash", password_hash))
        return name

    async def remove(self, raw_name: str) -> str:
        """Delete a user record; the caller ends the user's sessions."""
        name = _checked_name(raw_name)
        removed = await guard(self._redis.delete(self._keys.user(name)))
        await guard(self._redis.srem(self._keys.all_users(), name))
        if not removed:
            raise UnknownUser(name)
        return name

    async def names(self) -> list[str]:
        """Every user name, sorted."""
        members = await guard(self._redis.smembers(self._keys.all_users()))
        return sorted(as_text(member) for member in members)

    async def exists(self, name: str) -> bool:
        """True if the user (canonical name) exists."""
        return bool(await guard(self._redis.exists(self._keys.user(name))))

    async def authenticate(self, raw_name: str, password: str) -> str:
        """Return the canonical name if the password is right; else raise InvalidCredentials.

        Unknown names, malformed names and wrong passwords all take one argon2 verification,
        so neither the answer nor its timing tells whether an account exists.
        """
        name = normalize_user_name(raw_name)
        stored: str | None = None
        if name is not None:
            raw_hash = await guard(self._redis.hget(self._keys.user(name), "password_hash"))
            stored = as_text(raw_hash) if raw_hash is not None else None
        if not await self._hasher.verify(stored, password) or name is None or stored is None:
            raise InvalidCredentials()
        if self._hasher.needs_rehash(stored):
            upgraded = await self._hasher.hash(password)
            await guard(self._redis.hset(self._keys.user(name), "password_hash", upgraded))
        return name


def _checked_name(raw_name: str) -> str:
    name = normalize_user_name(raw_name)
    if name is None:
        raise BadUserInput(
            "user names are 1-64 characters of a-z, 0-9, '.', '_', '@', '+', '-' "
            "(upper case is folded to lower case)"
        )
    return name


def _check_new_password(password: str) -> None:
    if len(password) < 8:
        raise BadUserInput("passwords need at least 8 characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise BadUserInput(f"passwords are at most {MAX_PASSWORD_LENGTH} characters")


def parse_groups(raw: bytes | str | None) -> tuple[str, ...]:
    """The groups stored in a user record's `groups` field (tolerant of absence and spaces)."""
    if not raw:
        return ()
    text = as_text(raw)
    return tuple(sorted({name.strip() for name in text.split(",") if name.strip()}))
